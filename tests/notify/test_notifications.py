"""The notification engine against a real SMTP server (aiosmtpd) and both database dialects."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import Document, EmailSend, EmailTemplate, NotificationProfile, PipelineRunSummary
from crm_core.db.stores import add_recipient, add_store
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import diagnose, send_notifications_for_run
from crm_core.notify.templates import TemplateRenderError, render
from crm_core.pipelines import DAILY
from crm_core.runs.record import RunRecord
from crm_core.runs.store import save_run_record
from crm_core.settings import Settings
from crm_core.status import PhaseResult, Status

RUN = "run-notify-1"
REPORT_DATE = date(2025, 11, 17)


def stored_run(
    run_id: str, started: datetime, download: Status, report_date: date = REPORT_DATE
) -> RunRecord:
    """A daily run whose download phase ended with `download`, as the flow would store it."""
    record = RunRecord(
        DAILY,
        run_id,
        "dev",
        report_date=report_date,
        started_at=started,
        finished_at=started + timedelta(minutes=5),
    )
    record.set_phase("download", PhaseResult(download, "3/3 stores"))
    return record


def logger() -> EventLogger:
    return EventLogger(RUN, "dashboard_daily", stream=io.StringIO(), events=[])


def run_document(
    doc_type: str, path: Path, *, run_id: str = RUN, store: str | None = None, **changes: Any
) -> Document:
    """A `documents` row of the file at `path`, drawn by the daily pipeline's run `run_id` for `store`
    (none: a row without a store reference); `changes` replace any of its fields."""
    fields: dict[str, Any] = {
        "doc_type": doc_type,
        "doc_date": REPORT_DATE,
        "reference_name_1": "pipeline",
        "reference_id_1": "dashboard_daily",
        "reference_name_2": "run_id",
        "reference_id_2": run_id,
        "file_name": path.name,
        "file_path": str(path),
        "status": "ok",
    }
    if store is not None:
        fields |= {"reference_name_3": "store_code", "reference_id_3": store}
    return Document(**(fields | changes))


async def seed_run(engine: AsyncEngine, reports: Path, *, stores: tuple[str, ...] = ("A668", "A817")) -> None:
    async with session_factory(engine)() as session, session.begin():
        await add_store(session, "A668", name="Uttam Nagar, Delhi", report=True)
        await add_store(session, "A817", report=True)
        await add_recipient(session, "run_summary", "owner@example.com", pipeline_code="dashboard_daily")
        await add_recipient(
            session, "run_summary", "admin@example.com", pipeline_code="dashboard_daily", send_as="cc"
        )
        await add_recipient(session, "store_daily_reports", "a668@example.com", store_code="A668")
        await add_recipient(session, "store_daily_reports", "ops@example.com", send_as="cc")
        await add_recipient(session, "store_daily_reports", "audit@example.com", send_as="bcc")
        await save_run_record(session, stored_run(RUN, datetime(2025, 11, 18, 2, 0, tzinfo=UTC), Status.OK))
        for code in stores:
            path = reports / f"{code}_{REPORT_DATE}.pdf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"%PDF-1.4\n% test " + code.encode() + b"\n%%EOF\n")
            session.add(
                run_document(
                    "store_daily_pdf",
                    path,
                    store=code,
                    doc_subtype="pipeline_report",
                    file_size_bytes=path.stat().st_size,
                )
            )


async def store_rerun(
    engine: AsyncEngine, run_id: str, download: Status, report_date: date = REPORT_DATE
) -> None:
    """Another run of the seeded pipeline, with a copy of the seeded run's store PDFs."""
    async with session_factory(engine)() as session, session.begin():
        await save_run_record(
            session, stored_run(run_id, datetime(2025, 11, 18, 3, 0, tzinfo=UTC), download, report_date)
        )
        documents = (
            (await session.execute(select(Document).where(Document.reference_id_2 == RUN))).scalars().all()
        )
        for document in documents:
            session.add(
                run_document(
                    document.doc_type,
                    Path(document.file_path),
                    run_id=run_id,
                    store=document.reference_id_3,
                    **{c: getattr(document, c) for c in ("doc_subtype", "doc_date", "file_name", "status")},
                    file_size_bytes=document.file_size_bytes,
                )
            )


def smtp_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"})


async def test_sends_one_email_per_store_and_a_run_summary(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )
    assert (outcome.planned, outcome.delivered, outcome.failed, outcome.detail) == (3, 3, 0, "sent")
    assert outcome.status is Status.OK and outcome.issues == []
    by_subject = {m["message"]["Subject"]: m for m in handler.messages}
    assert set(by_subject) == {
        "[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK",
        "Uttam Nagar, Delhi Daily Performance Report 2025-11-17",
        "A817 Daily Performance Report 2025-11-17",
    }
    a668 = by_subject["Uttam Nagar, Delhi Daily Performance Report 2025-11-17"]
    message = a668["message"]
    assert message["To"] == "a668@example.com" and message["Cc"] == "ops@example.com"
    assert message["Bcc"] is None and "audit@example.com" in a668["rcpt_tos"]
    attachments = [part.get_filename() for part in message.iter_attachments()]
    assert attachments == ["A668_2025-11-17.pdf"]
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    # A817 has no own "to": the cc becomes "to".
    a817 = by_subject["A817 Daily Performance Report 2025-11-17"]["message"]
    assert a817["To"] == "ops@example.com"
    summary = by_subject["[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK"]["message"]
    assert summary["To"] == "owner@example.com" and summary["Cc"] == "admin@example.com"
    assert "Run ID: run-notify-1" in summary.get_body(("plain",)).get_content()
    assert not list(summary.iter_attachments())


async def test_every_email_has_its_own_message_id_and_quoted_display_names(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    async with session_factory(engine)() as session, session.begin():
        await add_recipient(
            session,
            "run_summary",
            "john@example.com",
            pipeline_code="dashboard_daily",
            display_name="Doe, John",
        )
    port, handler = smtp_server
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )
    assert outcome.delivered == 3
    ids = [m["message"]["Message-ID"] for m in handler.messages]
    assert len(set(ids)) == 3 and all(i.startswith("<") and i.endswith(">") for i in ids)
    summary = next(m for m in handler.messages if "Pipeline Run" in m["message"]["Subject"])
    assert "john@example.com" in summary["rcpt_tos"] and "Doe" not in summary["rcpt_tos"]
    assert '"Doe, John" <john@example.com>' in summary["message"]["To"]
    async with session_factory(engine)() as session:
        logged = set((await session.execute(select(EmailSend.message_id))).scalars())
    assert logged == set(ids)


async def test_rerun_never_sends_twice_unless_forced(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    again = await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    assert (again.delivered, again.already_sent) == (0, 3)
    assert len(handler.messages) == 3
    forced = await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger(), force=True)
    assert forced.delivered == 3 and len(handler.messages) == 6
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(EmailSend))).scalars().all()
    assert len(rows) == 3 and all(r.status == "sent" and r.attempts == 2 for r in rows)


async def test_smtp_down_then_send_delivers_only_the_missing(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    from tests.conftest import free_port

    down = smtp_settings(settings, free_port())
    failed = await send_notifications_for_run(
        engine, down, "dashboard_daily", RUN, logger(), attempts=2, backoff_s=0.01
    )
    assert (failed.failed, failed.delivered, failed.detail) == (3, 0, "failed")
    # Undelivered mail is a warning for the run, one issue per email naming it.
    assert failed.status is Status.WARNING and len(failed.issues) == 3
    assert any("A817" in issue and "failed" in issue for issue in failed.issues)
    assert all(issue.endswith("(after 2 attempts)") for issue in failed.issues)
    async with session_factory(engine)() as session:
        statuses = (await session.execute(select(EmailSend.status, EmailSend.attempts))).all()
    assert statuses and all(s == ("failed", 2) for s in statuses)

    # One email made it some other way earlier: mark it sent; the resend delivers the other two only.
    async with session_factory(engine)() as session, session.begin():
        await session.execute(update(EmailSend).where(EmailSend.store_code == "A668").values(status="sent"))
    recovered = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )
    assert (recovered.delivered, recovered.already_sent, recovered.failed) == (2, 1, 0)
    assert len(handler.messages) == 2
    # The rows of the resent emails now say sent, with the failed attempts counted in.
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(EmailSend.store_code, EmailSend.status, EmailSend.attempts, EmailSend.error_message)
                .where(EmailSend.store_code != "A668")
                .order_by(EmailSend.store_code)
            )
        ).all()
    assert rows == [("", "sent", 3, None), ("A817", "sent", 3, None)]


async def test_without_smtp_host_emails_go_to_the_outbox(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    outcome = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    assert outcome.detail == "outbox" and outcome.delivered == 3 and outcome.status is Status.OK
    files = sorted(p.name for p in settings.outbox_path.glob("*.eml"))
    assert files == [
        "run-notify-1_run_summary_run.eml",
        "run-notify-1_store_daily_reports_A668.eml",
        "run-notify-1_store_daily_reports_A817.eml",
    ]
    text = (settings.outbox_path / files[1]).read_text()
    assert "Subject: Uttam Nagar, Delhi Daily Performance Report 2025-11-17" in text
    assert "audit@example.com" not in text  # bcc never in headers


async def test_missing_pdf_skips_that_store_and_diagnose_reports_it(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    (settings.reports_path / f"A817_{REPORT_DATE}.pdf").unlink()
    outcome = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    assert outcome.planned == 2
    assert any("PDF for store A817 is missing" in f for f in outcome.findings)
    findings = await diagnose(engine, settings, "dashboard_daily", RUN)
    assert not any("SMTP_HOST" in f for f in findings)  # outbox mode is a note, not a finding
    assert any("A817" in f for f in findings)
    assert await diagnose(engine, settings, "dashboard_daily", "no-such-run") == [
        "run summary for run no-such-run not found",
    ]


async def test_templates_are_sandboxed(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    with pytest.raises(TemplateRenderError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    assert render("<b>{{ x }}</b>", {"x": "<script>"}, html=True) == "<b>&lt;script&gt;</b>"
    async with session_factory(engine)() as session, session.begin():
        profile_id = (
            (
                await session.execute(
                    select(NotificationProfile.id).where(NotificationProfile.code == "run_summary")
                )
            )
            .scalars()
            .first()
        )
        await session.execute(
            update(EmailTemplate)
            .where(EmailTemplate.profile_id == profile_id)
            .values(
                subject_template="{{ run_id.__class__.__init__.__globals__ }}\nBcc: evil@example.com",
                html_template="<p>{{ broken(</p>",
            )
        )
    outcome = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    assert outcome.delivered == 3
    # The broken template is named with both failing parts; the email goes out on the plain default.
    (finding,) = [f for f in outcome.findings if "template" in f]
    assert finding.startswith(
        "template dashboard_daily/run_summary failed for the run (subject: SecurityError"
    )
    assert "; html: TemplateSyntaxError" in finding and finding.endswith(
        "the plain-text default is used for this email"
    )
    text = (settings.outbox_path / "run-notify-1_run_summary_run.eml").read_text()
    assert "Subject: [TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK\n" in text
    assert "evil@example.com" not in text and "\nBcc:" not in text
    assert "{{ broken(" not in text and "text/html" not in text


async def test_a_rerun_of_the_same_date_resends_only_a_changed_summary(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    assert len(handler.messages) == 3

    # Same date, same status: the store reports and the summary already went out.
    await store_rerun(engine, "run-notify-2", Status.OK)
    same = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-2", logger())
    assert (same.delivered, same.already_sent) == (0, 3)
    # Same date, the outcome changed: only the new summary goes out.
    await store_rerun(engine, "run-notify-3", Status.WARNING)
    changed = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-3", logger())
    assert (changed.delivered, changed.already_sent) == (1, 2)
    assert handler.messages[-1]["message"]["Subject"].endswith("| WARNING")
    # Back to OK: the latest summary said WARNING, so the OK one goes out again.
    await store_rerun(engine, "run-notify-4", Status.OK)
    back = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-4", logger())
    assert (back.delivered, back.already_sent) == (1, 2)
    assert handler.messages[-1]["message"]["Subject"].endswith("| OK")
    # What counts is the status the email reported, not the summary as stored later (the flow rewrites
    # it after sending): run 4's summary now says WARNING, yet a run ending OK sends nothing new.
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            update(PipelineRunSummary)
            .where(PipelineRunSummary.run_id == "run-notify-4")
            .values(overall_status="warning")
        )
    await store_rerun(engine, "run-notify-5", Status.OK)
    same_again = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-5", logger())
    assert (same_again.delivered, same_again.already_sent) == (0, 3)


async def test_two_senders_at_once_deliver_every_email_once(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    other = make_engine(settings.db_url)  # a second pool: as a second process would have
    try:
        first, second = await asyncio.gather(
            send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger()),
            send_notifications_for_run(other, smtp, "dashboard_daily", RUN, logger()),
        )
    finally:
        await other.dispose()
    assert len(handler.messages) == 3
    assert (first.delivered + second.delivered, first.already_sent + second.already_sent) == (3, 3)


async def test_a_send_log_write_that_fails_twice_does_not_stop_the_other_emails(
    seeded, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from crm_core.notify import engine as notify_engine

    engine, settings = seeded
    port, handler = smtp_server
    record_send = notify_engine.record_send
    calls: list[str] = []

    async def failing_for_a668(eng: AsyncEngine, values: dict[str, object]) -> None:
        calls.append(str(values["store_code"]))
        if values["store_code"] == "A668":
            raise OSError("database went away")
        await record_send(eng, values)

    monkeypatch.setattr(notify_engine, "record_send", failing_for_a668)
    monkeypatch.setattr(
        notify_engine, "_record_with_one_retry", _no_wait(notify_engine._record_with_one_retry)
    )
    log = logger()
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, log
    )
    assert len(handler.messages) == 3 and outcome.delivered == 3
    assert calls.count("A668") == 2  # retried once
    assert any("A668" in m and "not recorded" in m for m in outcome.messages)
    assert any(
        e["status"] == "error" and "not recorded in the send log" in e["message"] for e in log.events or []
    )
    # An email missing from the send log may go out again: the email phase is an error.
    assert outcome.status is Status.ERROR and outcome.unrecorded == 1
    assert any("A668" in issue and "not recorded" in issue for issue in outcome.issues)
    async with session_factory(engine)() as session:
        logged = set((await session.execute(select(EmailSend.store_code))).scalars())
    assert logged == {"", "A817"}


def _no_wait(retrying):  # type: ignore[no-untyped-def]
    async def quick(engine: AsyncEngine, record: dict[str, object]) -> None:
        await retrying(engine, record, delay_s=0)

    return quick


def phase_events(log: EventLogger) -> list[tuple[object, ...]]:
    """The email phase's events as (status, message, store_code, extras)."""
    return [
        (e["status"], e["message"], e["store_code"], e["extras"])
        for e in log.events or []
        if e["phase"] == "report_email"
    ]


@pytest.fixture
def host_in_india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+05:30 for the test (as on a host set to IST); a POSIX zone
    string, so no time zone database is needed."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    assert time.localtime().tm_gmtoff == 5 * 3600 + 30 * 60
    yield
    monkeypatch.undo()
    time.tzset()


async def test_the_send_log_holds_each_emails_recipients_status_and_utc_times(  # type: ignore[no-untyped-def]
    seeded, smtp_server, host_in_india
) -> None:
    engine, settings = seeded
    port, _ = smtp_server
    log = logger()
    before = datetime.now(UTC)
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, log
    )
    assert (outcome.transport, outcome.as_metrics()["transport"]) == ("smtp", "smtp")
    assert phase_events(log) == [
        ("ok", "email run_summary/run sent", None, {"attachments": 0, "recipients": 2}),
        ("ok", "email store_daily_reports/A668 sent", "A668", {"attachments": 1, "recipients": 3}),
        ("ok", "email store_daily_reports/A817 sent", "A817", {"attachments": 1, "recipients": 2}),
    ]
    async with session_factory(engine)() as session:
        rows = {r.store_code: r for r in (await session.execute(select(EmailSend))).scalars()}
    assert set(rows) == {"", "A668", "A817"}
    assert rows[""].recipients == {"to": ["owner@example.com"], "cc": ["admin@example.com"], "bcc": []}
    assert rows["A668"].recipients == {
        "to": ["a668@example.com"],
        "cc": ["ops@example.com"],
        "bcc": ["audit@example.com"],
    }
    assert rows["A668"].attachments == ["A668_2025-11-17.pdf"] and rows[""].attachments == []
    # The status the run had is kept with the run's own email only: it decides whether a rerun resends it.
    assert {code: row.run_status for code, row in rows.items()} == {"": "ok", "A668": None, "A817": None}
    assert all((r.status, r.attempts, r.error_message) == ("sent", 1, None) for r in rows.values())
    # Times are UTC whatever the host's zone (SQLite gives them back without one).
    for row in rows.values():
        for stamp in (row.sent_at, row.updated_at):
            assert stamp is not None
            utc = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            assert before - timedelta(seconds=5) <= utc <= datetime.now(UTC) + timedelta(seconds=5)


async def test_an_unknown_run_sends_nothing_and_says_why(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    log = logger()
    outcome = await send_notifications_for_run(engine, settings, "dashboard_daily", "no-such-run", log)
    assert (outcome.planned, outcome.delivered, outcome.detail, outcome.status) == (
        0,
        0,
        "nothing planned",
        Status.WARNING,
    )
    assert outcome.issues == [
        "run summary for run no-such-run not found",
        "no notification emails scheduled for this run",
    ]
    assert phase_events(log) == [
        ("warn", "run summary for run no-such-run not found", None, None),
        ("warn", "no notification emails scheduled for this run", None, None),
    ]


async def test_outbox_mode_says_where_emails_go_and_a_rerun_names_each_skipped_email(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    log = logger()
    await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, log)
    assert phase_events(log) == [
        ("info", f"SMTP_HOST is not set: emails go to {settings.outbox_path}", None, None),
        ("ok", "email run_summary/run written to outbox", None, {"attachments": 0, "recipients": 2}),
        (
            "ok",
            "email store_daily_reports/A668 written to outbox",
            "A668",
            {"attachments": 1, "recipients": 3},
        ),
        (
            "ok",
            "email store_daily_reports/A817 written to outbox",
            "A817",
            {"attachments": 1, "recipients": 2},
        ),
    ]
    async with session_factory(engine)() as session:
        logged = (await session.execute(select(EmailSend.status, EmailSend.attempts))).all()
    assert logged == [("outbox", 1)] * 3
    again = logger()
    await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, again)
    skipped = "already sent for this run or report date, skipped"
    assert phase_events(again)[1:] == [
        ("info", f"email run_summary/run {skipped}", None, None),
        ("info", f"email store_daily_reports/A668 {skipped}", "A668", None),
        ("info", f"email store_daily_reports/A817 {skipped}", "A817", None),
    ]


async def test_an_outbox_that_cannot_be_written_fails_each_email_once(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    settings.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    settings.outbox_path.write_text("a file where the outbox folder should be")
    log = logger()
    outcome = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, log)
    assert (outcome.delivered, outcome.failed, outcome.detail) == (0, 3, "failed")
    labels = ["run_summary/run", "store_daily_reports/A668", "store_daily_reports/A817"]
    # The error is named by its type, as for any error that is not the SMTP server's answer.
    errors = [m.split(": ", 1)[1] for m in outcome.messages]
    assert [m.split(": ", 1)[0] for m in outcome.messages] == labels
    assert all(
        e.startswith(f"NotADirectoryError: [Errno 20] Not a directory: '{settings.outbox_path}/")
        for e in errors
    )
    assert phase_events(log)[1:] == [
        ("warn", f"email {label} failed: {error}", store, None)
        for label, error, store in zip(labels, errors, (None, "A668", "A817"), strict=True)
    ]
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(EmailSend.status, EmailSend.attempts, EmailSend.error_message).order_by(
                    EmailSend.store_code
                )
            )
        ).all()
    assert rows == [("failed", 1, error) for error in errors]


async def test_a_run_without_a_report_date_skips_only_what_this_run_delivered(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    await store_rerun(engine, "run-notify-2", Status.OK)
    async with session_factory(engine)() as session, session.begin():
        await session.execute(update(PipelineRunSummary).values(report_date=None))
    settings.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    settings.outbox_path.write_text("not a folder")
    failed = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    settings.outbox_path.unlink()
    first = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    again = await send_notifications_for_run(engine, settings, "dashboard_daily", RUN, logger())
    # Failed emails are not delivered ones; with no date to share, another run's emails are its own.
    assert (failed.failed, first.delivered, first.already_sent) == (3, 3, 0)
    assert (again.delivered, again.already_sent) == (0, 3)
    other = await send_notifications_for_run(engine, settings, "dashboard_daily", "run-notify-2", logger())
    assert (other.delivered, other.already_sent) == (3, 0)


async def test_a_run_of_the_next_date_sends_every_email_and_logs_them_apart(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    await store_rerun(engine, "run-next-day", Status.OK, REPORT_DATE + timedelta(days=1))
    next_day = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-next-day", logger())
    assert (next_day.delivered, next_day.already_sent, len(handler.messages)) == (3, 0, 6)
    async with session_factory(engine)() as session:
        logged = (await session.execute(select(EmailSend.run_id, EmailSend.store_code))).all()
    assert sorted(logged) == sorted(
        (run, code) for run in (RUN, "run-next-day") for code in ("", "A668", "A817")
    )


async def test_the_summary_that_counts_for_a_date_is_the_one_delivered_last(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    from tests.conftest import free_port

    # The first run's emails fail; a rerun of the date ending WARNING delivers all three.
    down = smtp_settings(settings, free_port())
    await send_notifications_for_run(engine, down, "dashboard_daily", RUN, logger(), attempts=1)
    await store_rerun(engine, "run-notify-2", Status.WARNING)
    await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-2", logger())
    # Catching up the first run (OK) sends its summary only: its row, stored first, is now the latest.
    caught_up = await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    assert (caught_up.delivered, caught_up.already_sent) == (1, 2)
    assert handler.messages[-1]["message"]["Subject"].endswith("| OK")
    async with session_factory(engine)() as session:
        row = (
            await session.execute(
                select(EmailSend).where(EmailSend.run_id == RUN, EmailSend.store_code == "")
            )
        ).scalar_one()
    assert (row.status, row.attempts, row.run_status, row.error_message) == ("sent", 2, "ok", None)
    assert row.message_id == handler.messages[-1]["message"]["Message-ID"]
    # So a third run ending OK has nothing to tell.
    await store_rerun(engine, "run-notify-3", Status.OK)
    third = await send_notifications_for_run(engine, smtp, "dashboard_daily", "run-notify-3", logger())
    assert (third.delivered, third.already_sent) == (0, 3)
    # A run's own summary never goes twice, even when its stored status changed since.
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            update(PipelineRunSummary).where(PipelineRunSummary.run_id == RUN).values(overall_status="error")
        )
    again = await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    assert (again.delivered, again.already_sent, len(handler.messages)) == (0, 3, 4)


async def test_a_send_log_write_is_retried_once_and_a_refused_one_is_counted_as_unrecorded(  # type: ignore[no-untyped-def]
    seeded, smtp_server
) -> None:
    _, settings = seeded
    port, handler = smtp_server
    # The database refuses the send-log rows of the two store emails at every write (as a full disk
    # would), and the summary's row at its first write only (a blip).
    engine = make_engine(settings.db_url)
    if engine.dialect.name == "postgresql":
        statements = [
            "CREATE SEQUENCE summary_blips",
            "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.store_code <> '' THEN RAISE EXCEPTION 'send log refused'; "
            "ELSIF nextval('summary_blips') = 1 THEN RAISE EXCEPTION 'send log refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_rows BEFORE INSERT ON email_sends "
            "FOR EACH ROW EXECUTE FUNCTION refuse_rows()",
        ]
    else:
        summary_writes: list[str] = []

        def refuse(store_code: str) -> bool:  # a failed statement undoes its writes: count them here
            if store_code:
                return True
            summary_writes.append(store_code)
            return len(summary_writes) == 1

        @event.listens_for(engine.sync_engine, "connect")
        def _refuse_function(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.create_function("refuse", 1, refuse)

        statements = [
            "CREATE TRIGGER refuse_rows BEFORE INSERT ON email_sends WHEN refuse(NEW.store_code) "
            "BEGIN SELECT RAISE(ABORT, 'send log refused'); END"
        ]
    try:
        async with session_factory(engine)() as session, session.begin():
            for statement in statements:
                await session.execute(text(statement))
        log = logger()
        outcome = await send_notifications_for_run(
            engine, smtp_settings(settings, port), "dashboard_daily", RUN, log
        )
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(EmailSend.store_code, EmailSend.status))).all()
    finally:
        await engine.dispose()
    assert len(handler.messages) == 3 and (outcome.delivered, outcome.unrecorded) == (3, 2)
    assert rows == [("", "sent")]  # the retry recorded the summary
    assert outcome.status is Status.ERROR
    assert outcome.problems == [
        f"email store_daily_reports/{code}: sent but not recorded in the send log "
        "(a later send may repeat it)"
        for code in ("A668", "A817")
    ]
    errors = [e for e in phase_events(log) if e[0] == "error"]
    assert [(message, store) for _, message, store, _ in errors] == [
        (problem, code) for problem, code in zip(outcome.problems, ("A668", "A817"), strict=True)
    ]
    assert all("send log refused" in str(extras["error"]) for *_, extras in errors)  # type: ignore[index]


async def test_an_alert_and_the_summary_of_one_run_each_keep_their_send_log_row(seeded, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from crm_core.notify.alerts import send_flow_alert

    engine, settings = seeded
    port, handler = smtp_server
    smtp = smtp_settings(settings, port)
    # The run crashed after drawing its PDFs: the alert goes out, then its emails are caught up.
    assert (await send_flow_alert(engine, smtp, DAILY, RUN, "Crashed", "worker died")).startswith(
        "alert sent"
    )
    outcome = await send_notifications_for_run(engine, smtp, "dashboard_daily", RUN, logger())
    assert (outcome.delivered, len(handler.messages)) == (3, 4)
    async with session_factory(engine)() as session:
        logged = (await session.execute(select(EmailSend.profile_code, EmailSend.store_code))).all()
    assert sorted(logged) == [
        ("alert", ""),
        ("run_summary", ""),
        ("store_daily_reports", "A668"),
        ("store_daily_reports", "A817"),
    ]
