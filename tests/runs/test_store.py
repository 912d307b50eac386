"""Run records in `pipeline_run_summaries` (SQLite and PostgreSQL), and the email catch-up."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.runs import load_run_summary
from crm_core.notify.engine import NotifyOutcome
from crm_core.runs.store import load_run_record, record_email_catch_up, save_run_record
from crm_core.status import Status
from tests.runs.conftest import download, record_with


async def test_saved_record_loads_back_with_its_phases(engine: AsyncEngine) -> None:
    record = record_with(download(failed_store="A817"))
    record.finish()
    async with session_factory(engine)() as session, session.begin():
        await save_run_record(session, record)
    async with session_factory(engine)() as session:
        row = await load_run_summary(session, "run-1")
        loaded = await load_run_record(session, "run-1")
    assert row is not None and loaded is not None
    assert row.overall_status == "warning"
    assert row.phases_json == {
        "download": {
            "status": "warning",
            "detail": "2/3 stores",
            "issues": ["store A817: download failed: missed_leads: HTTP 500"],
        }
    }
    assert row.metrics_json is not None and row.metrics_json["stores"]["processed"] == ["A526", "A668"]
    assert loaded.status is Status.WARNING and loaded.issues == record.issues


async def test_email_catch_up_replaces_the_email_phase_and_keeps_the_others(engine: AsyncEngine) -> None:
    record = record_with(download(failed_store="A817"))
    failed = NotifyOutcome(planned=3, failed=3, problems=[f"email {e} failed: SMTP down" for e in "abc"])
    record.set_phase("report_email", failed)
    record.finish()
    async with session_factory(engine)() as session, session.begin():
        await save_run_record(session, record)
    assert "email a failed: SMTP down" in record.issues

    delivered = NotifyOutcome(planned=3, delivered=3)
    async with session_factory(engine)() as session, session.begin():
        status = await record_email_catch_up(session, "run-1", delivered)
    assert status == "warning"  # the failed store still makes it a warning
    async with session_factory(engine)() as session:
        row = await load_run_summary(session, "run-1")
    assert row is not None and row.metrics_json is not None
    assert row.metrics_json["issues"] == ["store A817: download failed: missed_leads: HTTP 500"]
    assert row.metrics_json["email"]["message"] == "3 of 3 emails delivered"
    assert row.phases_json is not None and row.phases_json["report_email"]["status"] == "ok"
    assert "- report_email: OK (sent)" in row.summary_text
    assert "- download: WARNING (2/3 stores)" in row.summary_text
    issues = row.summary_text.split("Issues:")[1]
    assert "email" not in issues and "A817" in issues

    async with session_factory(engine)() as session, session.begin():
        assert await record_email_catch_up(session, "no-such-run", delivered) is None
