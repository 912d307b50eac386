from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import EmailSend
from crm_core.db.stores import add_recipient
from crm_core.json_logger import EventLogger
from crm_core.notify.alerts import send_flow_alert, send_missed_run_alert
from crm_core.notify.engine import send_notifications_for_run
from crm_core.pipelines import DAILY
from crm_core.settings import Settings


async def test_alert_goes_to_run_summary_recipients_once(settings: Settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    port, handler = smtp_server
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"})
    engine = make_engine(settings.db_url)
    try:
        assert "no run_summary recipients" in await send_flow_alert(
            engine, smtp, DAILY, "r1", "Crashed", "worker died"
        )
        async with session_factory(engine)() as session, session.begin():
            await add_recipient(session, "run_summary", "owner@example.com", pipeline_code="dashboard_daily")
            await add_recipient(
                session, "run_summary", "admin@example.com", pipeline_code="dashboard_daily", send_as="cc"
            )
        result = await send_flow_alert(engine, smtp, DAILY, "r1", "Crashed", "worker died")
        assert result.startswith("alert sent")
        assert len(handler.messages) == 1
        message = handler.messages[0]["message"]
        assert message["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run Crashed"  # type: ignore[index]
        assert set(handler.messages[0]["rcpt_tos"]) == {"owner@example.com", "admin@example.com"}  # type: ignore[arg-type]
        again = await send_flow_alert(engine, smtp, DAILY, "r1", "Crashed", "worker died")
        assert "already delivered" in again and len(handler.messages) == 1
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(EmailSend))).scalars().all()
        assert [(r.profile_code, r.status) for r in rows] == [("alert", "sent")]
    finally:
        await engine.dispose()


async def test_alerts_about_one_run_at_the_same_moment_send_one_email(
    settings: Settings, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    """The flow's own failure hook and the automation's alert run (or one event seen twice) at once."""
    port, handler = smtp_server
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"})
    engine = make_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await add_recipient(session, "run_summary", "owner@example.com", pipeline_code="dashboard_daily")
        now = datetime.now(UTC)
        failed = [send_flow_alert(engine, smtp, DAILY, "r1", "Failed", "boom") for _ in range(3)]
        missed = [send_missed_run_alert(engine, smtp, DAILY, "r2", "Late", now, now) for _ in range(3)]
        outcomes = await asyncio.gather(*failed, *missed)
        assert sorted(o.split(":")[0] for o in outcomes) == [
            "alert sent",
            "alert sent",
            "missed-run alert already delivered for this run",
            "missed-run alert already delivered for this run",
            "run summary or alert already delivered for this run",
            "run summary or alert already delivered for this run",
        ], outcomes
        subjects = sorted(str(m["message"]["Subject"]) for m in handler.messages)  # type: ignore[index]
        assert subjects == [
            "[TSV Pipeline ALERT] dashboard_daily run Failed",
            "[TSV Pipeline ALERT] dashboard_daily run not completed",
        ]
    finally:
        await engine.dispose()


async def test_failed_alert_is_recorded_and_retried(settings: Settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    port, handler = smtp_server
    engine = make_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await add_recipient(session, "run_summary", "owner@example.com", pipeline_code="dashboard_daily")
        down = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_security": "none"}
        )
        assert (await send_flow_alert(engine, down, DAILY, "r2", "Failed", "x")).startswith("alert failed")
        up = down.model_copy(update={"smtp_port": port})
        assert (await send_flow_alert(engine, up, DAILY, "r2", "Failed", "x")).startswith("alert sent")
        assert len(handler.messages) == 1
        # A run whose summary email went out gets no extra alert.
        logger = EventLogger("r2", "dashboard_daily", stream=io.StringIO())
        outcome = await send_notifications_for_run(engine, up, "dashboard_daily", "no-summary", logger)
        assert outcome.planned == 0
    finally:
        await engine.dispose()


async def test_alert_email_to_is_the_fallback_when_nobody_is_on_the_run_summary(  # type: ignore[no-untyped-def]
    settings: Settings, smtp_server
) -> None:
    port, handler = smtp_server
    smtp = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "alert_email_to": "ops@example.com, owner@example.com",
        }
    )
    engine = make_engine(settings.db_url)
    try:
        result = await send_flow_alert(engine, smtp, DAILY, "r3", "Failed", "boom")
        assert result.startswith("alert sent"), result
        assert set(handler.messages[0]["rcpt_tos"]) == {"ops@example.com", "owner@example.com"}  # type: ignore[arg-type]
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(EmailSend.profile_code, EmailSend.status))).all()
        assert rows == [("alert", "sent")]
    finally:
        await engine.dispose()


async def test_alert_reaches_alert_email_to_when_the_database_is_down(  # type: ignore[no-untyped-def]
    tmp_path: Path, smtp_server
) -> None:
    from tests.conftest import free_port

    port, handler = smtp_server
    down_url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm"  # nothing listens there
    smtp = Settings(
        crm_home=tmp_path,
        database_url=down_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        alert_email_to="ops@example.com",
    )
    engine = make_engine(smtp.db_url)
    try:
        result = await send_flow_alert(engine, smtp, DAILY, "r4", "Failed", "database is down")
    finally:
        await engine.dispose()
    assert result.startswith("alert sent") and "database unreachable" in result, result
    assert len(handler.messages) == 1 and handler.messages[0]["rcpt_tos"] == ["ops@example.com"]
    body = handler.messages[0]["message"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "database is down" in body and "could not be read" in body


async def test_without_alert_email_to_a_database_down_alert_says_why_it_was_not_sent(tmp_path: Path) -> None:
    from tests.conftest import free_port

    down = Settings(
        crm_home=tmp_path, database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm"
    )
    engine = make_engine(down.db_url)
    try:
        result = await send_flow_alert(engine, down, DAILY, "r5", "Failed", "x")
    finally:
        await engine.dispose()
    assert "database unreachable" in result and "ALERT_EMAIL_TO is not set" in result


async def test_alert_flow_decision_skips_dry_runs_and_completed_runs_and_alerts_a_missed_run_once(
    settings: Settings, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from crm_core.notify.alerts import AlertKind, WatchedRun, alert_for_run

    port, handler = smtp_server
    smtp = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "alert_email_to": "ops@example.com",
        }
    )
    due = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    late = WatchedRun("fr-1", "dashboard-daily", "SCHEDULED", "Late", "", due, dry_run=False)
    engine = make_engine(settings.db_url)
    try:
        now = due + timedelta(hours=3, minutes=5)
        dry = WatchedRun("fr-0", "dashboard-daily", "FAILED", "Failed", "boom", due, dry_run=True)
        assert "dry run" in await alert_for_run(engine, smtp, dry, AlertKind.FAILED, now)
        done = WatchedRun("fr-2", "dashboard-daily", "COMPLETED", "Completed", "", due, dry_run=False)
        assert "completed meanwhile" in await alert_for_run(engine, smtp, done, AlertKind.MISSED, now)
        other = WatchedRun("fr-3", "someone-elses-flow", "FAILED", "Failed", "", due, dry_run=False)
        assert "not a pipeline" in await alert_for_run(engine, smtp, other, AlertKind.FAILED, now)
        assert handler.messages == []

        assert (await alert_for_run(engine, smtp, late, AlertKind.MISSED, now)).startswith("alert sent")
        assert "already delivered" in await alert_for_run(engine, smtp, late, AlertKind.MISSED, now)
        assert len(handler.messages) == 1
        message = handler.messages[0]["message"]
        assert message["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run not completed"  # type: ignore[index]
        body = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
        assert "2026-11-30 02:00 UTC" in body and "3 h 05 min later" in body and "state is Late" in body

        # The same run failing afterwards still gets its failure alert (the missed one has its own key).
        failed = WatchedRun("fr-1", "dashboard-daily", "FAILED", "Failed", "hung", due, dry_run=False)
        assert (await alert_for_run(engine, smtp, failed, AlertKind.FAILED, now)).startswith("alert sent")
        assert len(handler.messages) == 2
    finally:
        await engine.dispose()
