"""The daily flow end to end: real Chromium against the simulator, real PostgreSQL, aiosmtpd as SMTP,
inside a Prefect test server."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import INGEST_TABLES, Document, EmailSend, PipelineRunSummary
from crm_core.db.runs import load_run_summary
from crm_core.demo import seed_dashboard_history, seed_demo
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from flows.daily import daily_flow

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.usefixtures("prefect_harness")]
DAY = date(2025, 11, 19)
BUCKETS = ("missed_leads", "undelivered_all", "repeat_customers")


@pytest.fixture(scope="module")
def sim() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_sim(sim: SandboxServer) -> Iterator[None]:
    sim.state.faults.clear()
    yield
    sim.state.faults.clear()


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)  # A668, A817 report stores; A526 ETL only; demo recipients
    yield engine
    await engine.dispose()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    sim: SandboxServer,
    smtp_server: tuple[int, Any],
) -> Path:
    home = tmp_path / "home"
    values = {
        "CRM_HOME": str(home),
        "CRM_TODAY": (DAY + timedelta(days=1)).isoformat(),  # the simulator's portal is frozen at DAY
        "DATABASE_URL": pg_url,
        "PORTAL_BASE_URL": sim.portal_origin,
        "PORTAL_TMS_URL": sim.tms_origin,
        "PORTAL_USERNAME": DEMO_USERNAME,
        "PORTAL_PASSWORD": DEMO_PASSWORD,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server[0]),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "TSV Reports <reports@example.com>",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return home


async def run_daily(**params: Any) -> tuple[Any, dict[str, Any]]:
    state = await daily_flow(report_date=DAY, return_state=True, **params)
    result = await state.aresult(raise_on_failure=False)
    assert isinstance(result, dict), (state.name, state.message, result)
    return state, result


async def table_rows(engine: AsyncEngine, bucket: str) -> list[tuple[Any, ...]]:
    table = INGEST_TABLES[bucket]
    business = [c for c in table.columns if c.name not in ("run_id", "created_at", "updated_at")]
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(*business).order_by(*table.primary_key))]


async def row_stamps(engine: AsyncEngine, bucket: str) -> list[tuple[Any, ...]]:
    table = INGEST_TABLES[bucket]
    stamps = [*table.primary_key, table.c.run_id, table.c.updated_at]
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(*stamps).order_by(*table.primary_key))]


def crm(*args: str, api_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `crm` command in a child process with this test's environment."""
    env = os.environ | ({"PREFECT_API_URL": api_url} if api_url else {})
    command = [str(Path(sys.executable).with_name("crm")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def messages(smtp: tuple[int, Any]) -> list[EmailMessage]:
    return [m["message"] for m in smtp[1].messages]


async def test_daily_run_end_to_end_and_rerun(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "ok", result["summary_text"]
    run_id = result["run_id"]
    metrics = result["metrics"]

    # Every bucket merged, ingested and audited ok; the database holds exactly the merged rows.
    for bucket in BUCKETS:
        info = metrics["buckets"][bucket]
        assert info["verdict"] == "ok", info
        counts = info["counts"]
        assert counts["merged_rows"] > 0
        assert counts["ingested_rows"] == counts["merged_rows"] == counts["inserted"]
        assert set(info["stores"]) == {"A526", "A668", "A817"}
        rows = await table_rows(db, bucket)
        assert len(rows) == counts["merged_rows"]
    async with db.connect() as conn:
        stamped = await conn.execute(
            text("SELECT count(*) FROM missed_leads WHERE run_id = :r AND run_date = :d"),
            {"r": run_id, "d": DAY},
        )
        assert stamped.scalar_one() == metrics["buckets"]["missed_leads"]["counts"]["ingested_rows"]
        figures = await conn.execute(
            text("SELECT count(*) FROM store_dashboard_summary WHERE dashboard_date = :d"), {"d": DAY}
        )
        assert figures.scalar_one() == 3

    # Files cleaned up after the ok audits.
    assert not list((env / "downloads").rglob("*.csv"))

    # One PDF per report store, showing that store's figures; a documents row for each.
    assert metrics["pdf"]["generated"] == 2
    async with session_factory(db)() as session:
        documents = (
            (await session.execute(select(Document).where(Document.reference_id_2 == run_id))).scalars().all()
        )
        assert sorted(d.reference_id_3 for d in documents) == ["A668", "A817"]
        for document in documents:
            text_of_pdf = pdf_text(Path(str(document.file_path)))
            assert document.reference_id_3 in text_of_pdf
            assert "2025-11-19" in text_of_pdf or "19 Nov 2025" in text_of_pdf
        summary = (
            await session.execute(select(PipelineRunSummary).where(PipelineRunSummary.run_id == run_id))
        ).scalar_one()
        assert summary.overall_status == "ok"
        assert summary.metrics_json["email"]["status"] == "sent"
        assert "report_email" in summary.phases_json
        assert "- report_email: OK (sent)" in summary.summary_text

    # One email per report store with its PDF, one run summary.
    sent = messages(smtp_server)
    assert len(sent) == 3
    with_pdf = {
        part.get_filename(): msg["Subject"]
        for msg in sent
        for part in msg.iter_attachments()
        if part.get_content_type() == "application/pdf"
    }
    assert sorted(with_pdf) == ["A668_2025-11-19.pdf", "A817_2025-11-19.pdf"]
    summaries = [m for m in sent if not any(True for _ in m.iter_attachments())]
    assert len(summaries) == 1 and "ok" in summaries[0]["Subject"].lower()

    # The run's artifacts in Prefect: a markdown summary and rows per store and bucket, no personal data.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    by_key = {a.key: a for a in artifacts}
    markdown = str(by_key["daily-2025-11-19-summary"].data)
    assert "Daily run 2025-11-19: **OK**" in markdown and "| missed_leads |" in markdown
    assert not re.search(r"[6-9]\d{9}", markdown)
    table = json.loads(str(by_key["daily-2025-11-19-counts"].data))
    assert len(table) == 9 and {row["download"] for row in table} == {"ok"}

    # Rerun of the same date: same table contents, no row rewritten, no email sent twice.
    before = {bucket: await table_rows(db, bucket) for bucket in BUCKETS}
    stamps = {bucket: await row_stamps(db, bucket) for bucket in BUCKETS}
    state2, result2 = await run_daily()
    assert state2.is_completed() and result2["status"] == "ok", result2["summary_text"]
    assert result2["run_id"] != run_id
    for bucket in BUCKETS:
        assert await table_rows(db, bucket) == before[bucket]
        assert await row_stamps(db, bucket) == stamps[bucket]  # run_id and updated_at of the first run
        counts = result2["metrics"]["buckets"][bucket]["counts"]
        assert counts["inserted"] == counts["updated"] == 0
        assert counts["unchanged"] == counts["ingested_rows"] == counts["merged_rows"]
    assert len(messages(smtp_server)) == 3
    assert result2["metrics"]["email"]["already_sent"] == 3
    # Nothing went out this time, and the message says so rather than "3 of 3 delivered".
    assert result2["metrics"]["email"]["message"] == "0 emails sent (3 already sent for this date)"


async def test_failing_store_makes_the_run_a_warning(
    db: AsyncEngine, env: Path, sim: SandboxServer, smtp_server: tuple[int, Any]
) -> None:
    sim.state.faults.add("status@A817/missed_leads=500")
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "warning"
    metrics = result["metrics"]
    assert set(metrics["buckets"]["missed_leads"]["stores"]) == {"A526", "A668"}
    assert metrics["buckets"]["undelivered_all"]["verdict"] == "ok"
    assert any("A817" in issue for issue in metrics["issues"])
    assert len(messages(smtp_server)) == 3  # every report store still gets its PDF


async def test_smtp_down_then_notifications_send_delivers_only_the_missing(
    db: AsyncEngine, env: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nobody listens there
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "warning"
    assert result["metrics"]["email"]["status"] == "failed"
    async with session_factory(db)() as session:
        failed = (
            await session.execute(select(func.count()).where(EmailSend.status == "failed"))
        ).scalar_one()
        assert failed == 3

    monkeypatch.setenv("SMTP_PORT", str(smtp_server[0]))
    outcome = crm("notifications", "send", "--run-id", result["run_id"])
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert len(messages(smtp_server)) == 3
    # The stored summary now tells the truth about the emails: delivered, and no longer a warning.
    assert "run summary updated: status ok" in outcome.stdout
    async with session_factory(db)() as session:
        stored = await load_run_summary(session, result["run_id"])
        assert stored is not None and stored.overall_status == "ok"
        assert stored.metrics_json["email"]["status"] == "sent"
        assert stored.metrics_json["email"]["message"] == "3 of 3 emails delivered"
        assert "Status: ok" in stored.summary_text and "- report_email: OK (sent)" in stored.summary_text
        assert "failed" not in stored.summary_text.split("Issues:")[1]
    again = crm("notifications", "send", "--run-id", result["run_id"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(messages(smtp_server)) == 3


async def test_a_failing_stored_template_falls_back_and_every_email_still_goes_out(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    """Errors Jinja does not classify used to fail the whole run (no store or summary emails, only the
    alert); now the email falls back to the plain-text default and the run is a warning naming it."""
    async with db.begin() as conn:
        store_profile = "SELECT id FROM notification_profiles WHERE code = :code"
        await conn.execute(
            text(f"UPDATE email_templates SET body_template = :t WHERE profile_id IN ({store_profile})"),
            {"t": "{{ 1 / 0 }}", "code": "store_daily_reports"},
        )
        await conn.execute(
            text(f"UPDATE email_templates SET html_template = :t WHERE profile_id IN ({store_profile})"),
            {"t": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "code": "run_summary"},
        )
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "warning", result["summary_text"]
    sent = messages(smtp_server)
    assert len(sent) == 3 and all(m.get_body(("html",)) is None for m in sent)
    store_emails = [m for m in sent if any(True for _ in m.iter_attachments())]
    # The default subject: "<store name> (<code>) report <date>".
    assert sorted(m["Subject"].rsplit(" (", 1)[1] for m in store_emails) == [
        "A668) report 2025-11-19",
        "A817) report 2025-11-19",
    ]
    assert all("Attached is the report for" in m.get_body(("plain",)).get_content() for m in store_emails)
    issues = result["metrics"]["issues"]
    assert any(
        i.startswith("template dashboard_daily/store_daily_reports failed for store A668 (body: ZeroDivision")
        for i in issues
    ), issues
    assert any(
        i.startswith("template dashboard_daily/run_summary failed for the run (html: RecursionError")
        for i in issues
    ), issues

    checked = crm("notifications", "test", "--pipeline", "dashboard_daily", "--run-id", result["run_id"])
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "[notifications-test] template dashboard_daily/store_daily_reports failed for store A817" in (
        checked.stdout
    )


async def test_dry_run_writes_deletes_and_sends_nothing(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    state, result = await run_daily(dry_run=True)
    assert state.is_completed() and result["dry_run"]
    # Nothing went wrong, so it ends ok; that nothing was written is what "dry run" says, not a warning.
    assert result["status"] == "ok", result["summary_text"]
    assert "Status: ok (dry run)" in result["summary_text"]
    assert result["metrics"]["email"]["status"] == "skipped (dry run)"
    assert result["metrics"]["pdf"]["skipped"] == "dry run"
    assert "- report_email" not in result["summary_text"] and "- report:" not in result["summary_text"]
    for bucket in BUCKETS:
        assert await table_rows(db, bucket) == []
        assert result["metrics"]["buckets"][bucket]["counts"]["merged_rows"] > 0
    async with db.connect() as conn:
        for table in ("store_dashboard_summary", "documents", "pipeline_run_summaries", "email_sends"):
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0
    kept = {p.name for p in (env / "downloads").rglob("*.csv")}
    assert "merged_missed_leads_20251119.csv" in kept and "A668-missed-leads.csv" in kept
    assert messages(smtp_server) == []


async def test_login_failure_is_an_error_run_with_summary_sent(
    db: AsyncEngine, env: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("PORTAL_PASSWORD", "wrong-password")
    state, result = await run_daily()
    assert state.is_failed() and result["status"] == "error"
    assert result["metrics"]["pdf"]["skipped"] == "portal login failed"
    sent = messages(smtp_server)
    # The run summary is sent; the failure hook sees it and does not send a second alert.
    assert len(sent) == 1 and "error" in sent[0]["Subject"].lower()
    # The portal's own words and the screenshot come first, in the summary and in its email.
    first = result["metrics"]["issues"][0]
    assert first.startswith('portal login failed: site reports login error: "Invalid username or password"')
    screenshot = Path(first.split("(screenshot: ")[1].rstrip(")"))
    assert screenshot.suffix == ".png" and screenshot in set((env / "artifacts").rglob("*.png"))
    assert first in sent[0].get_body(("plain",)).get_content()
    async with session_factory(db)() as session:
        summary = (
            await session.execute(
                select(PipelineRunSummary).where(PipelineRunSummary.run_id == result["run_id"])
            )
        ).scalar_one()
        assert summary.overall_status == "error"
    assert list((env / "artifacts").rglob("*.png")), "login failure leaves a screenshot"


async def test_no_etl_store_stops_before_any_browser_work_and_alerts(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    async with db.begin() as conn:
        await conn.execute(text("UPDATE store_master SET etl_flag = false, report_flag = false"))
    state = await daily_flow(report_date=DAY, return_state=True)
    assert state.is_failed()
    error = await state.aresult(raise_on_failure=False)
    assert "no stores are flagged for ETL" in str(error)
    assert not (env / "downloads").exists() or not list((env / "downloads").iterdir())
    # The failure hook emails the run-summary recipients: nobody else would notice a scheduled run failing.
    sent = messages(smtp_server)
    assert len(sent) == 1 and "ALERT" in sent[0]["Subject"]
    assert "no stores are flagged for ETL" in sent[0].get_body(("plain",)).get_content()
    async with db.connect() as conn:
        summaries = await conn.execute(text("SELECT count(*) FROM pipeline_run_summaries"))
        assert summaries.scalar_one() == 0


async def test_failed_dry_run_sends_and_writes_no_alert(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    """A dry run promises to send and write nothing, even when it fails: the alert is in its log only."""
    async with db.begin() as conn:
        await conn.execute(text("UPDATE store_master SET etl_flag = false, report_flag = false"))
    state = await daily_flow(report_date=DAY, dry_run=True, return_state=True)
    assert state.is_failed()
    assert "no stores are flagged for ETL" in str(await state.aresult(raise_on_failure=False))
    assert messages(smtp_server) == []
    async with db.connect() as conn:
        for table in ("email_sends", "pipeline_run_summaries"):
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0


def test_crm_run_daily_command(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI runs the same flow (here against the test's Prefect server) and maps statuses to exit codes."""
    from prefect.settings import PREFECT_API_URL

    api_url = str(PREFECT_API_URL.value())
    dry = crm("run", "daily", "--date", DAY.isoformat(), "--stores", "A668", "--dry_run", api_url=api_url)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "Report Date: 2025-11-19" in dry.stdout and "Stores processed: A668" in dry.stdout
    # The configured server records the run (no temporary one), and the command says so.
    assert f"Prefect: {api_url}" in dry.stdout.splitlines()
    assert messages(smtp_server) == []

    bad = crm("run", "daily", "--stores", "Z999", api_url=api_url)
    assert bad.returncode == 2 and "stores not flagged for ETL: Z999" in bad.stderr
    assert "Traceback" not in bad.stderr

    # A refused login: exit 1, and the last line is the portal's message with the screenshot to open.
    monkeypatch.setenv("PORTAL_PASSWORD", "wrong-password")
    for saved in env.rglob("storage_state.json"):
        saved.unlink()  # or the saved session would spare the login
    failed = crm("run", "daily", "--date", DAY.isoformat(), "--stores", "A668", api_url=api_url)
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    last = failed.stdout.strip().splitlines()[-1]
    assert last.startswith(
        'error: portal login failed: site reports login error: "Invalid username or password" (screenshot: '
    ), last


async def dashboard_and_ingest_rows(engine: AsyncEngine) -> dict[str, int]:
    tables = ["store_dashboard_summary", *(INGEST_TABLES[b].name for b in BUCKETS)]
    async with engine.connect() as conn:
        return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in tables}


@pytest.fixture
def portal_closed(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the portal's address: a backfill that touched it would fail."""
    from tests.conftest import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PORTAL_BASE_URL", closed)
    monkeypatch.setenv("PORTAL_TMS_URL", closed)


async def test_past_dates_are_report_backfills_from_stored_data(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any], portal_closed: None
) -> None:
    earlier = [DAY - timedelta(days=n) for n in (3, 2, 1)]
    async with session_factory(db)() as session, session.begin():
        # Stored figures for A668 on the last two of the three days only; A817 has none.
        await seed_dashboard_history(session, DAY, days=2)
        await session.execute(
            text(
                "DELETE FROM store_dashboard_summary WHERE store_id IN "
                "(SELECT id FROM store_master WHERE store_code <> 'A668')"
            )
        )
    before = await dashboard_and_ingest_rows(db)

    state = await daily_flow(date_from=earlier[0], date_to=earlier[2], return_state=True)
    result = await state.aresult(raise_on_failure=False)
    assert isinstance(result, dict), (state.name, state.message, result)
    runs = result["runs"]
    assert [r["report_date"] for r in runs] == [d.isoformat() for d in earlier]
    assert len({r["run_id"] for r in runs}) == 3
    assert await dashboard_and_ingest_rows(db) == before  # nothing downloaded or ingested
    assert messages(smtp_server) == []  # emails only on request

    async with session_factory(db)() as session:
        stored = (await session.execute(select(PipelineRunSummary))).scalars().all()
        assert sorted(s.report_date for s in stored) == earlier
        documents = (await session.execute(select(Document))).scalars().all()
    # A PDF (and documents row) per store and day with stored figures: A668 on the last two days.
    assert sorted((d.reference_id_3, d.doc_date) for d in documents) == [("A668", d) for d in earlier[1:]]
    first = runs[0]
    assert "report backfill from stored data: no portal access" in first["summary_text"]
    assert "- download" not in first["summary_text"] and "- merge" not in first["summary_text"]
    # A668 has figures for the 2nd and 3rd day back only; A817 for none: each store named per day.
    assert "store A668: " in runs[0]["summary_text"] and "store A817: " in runs[0]["summary_text"]
    assert "store A668: " not in runs[1]["summary_text"] and "store A817: " in runs[1]["summary_text"]
    assert runs[1]["metrics"]["pdf"]["no_data"] == 1
    assert runs[1]["metrics"]["email"]["status"].startswith("not requested")
    a668 = next(d for d in documents if d.reference_id_3 == "A668" and d.doc_date == earlier[1])
    shown = pdf_text(Path(str(a668.file_path)))
    assert earlier[1].isoformat() in shown or earlier[1].strftime("%d %b %Y") in shown

    state = await daily_flow(report_date=earlier[1], send_emails=True, return_state=True)
    result = await state.aresult(raise_on_failure=False)
    assert isinstance(result, dict) and result["metrics"]["email"]["status"] == "sent", result
    # A668's PDF and the run summary (A817 has no PDF for that day).
    assert len(messages(smtp_server)) == 2


async def test_a_date_after_t_minus_1_is_refused(db: AsyncEngine, env: Path) -> None:
    state = await daily_flow(report_date=DAY + timedelta(days=1), return_state=True)
    assert state.is_failed()
    error = str(await state.aresult(raise_on_failure=False))
    assert f"{DAY + timedelta(days=1)} is after the latest report date {DAY} (T-1)" in error
    async with db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM pipeline_run_summaries"))).scalar_one() == 0
