from __future__ import annotations

import io

from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import EmailSend
from crm_core.db.stores import add_recipient
from crm_core.json_logger import EventLogger
from crm_core.notify.alerts import send_flow_alert
from crm_core.notify.engine import send_notifications_for_run
from crm_core.settings import Settings


async def test_alert_goes_to_run_summary_recipients_once(settings: Settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    port, handler = smtp_server
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"})
    engine = make_engine(settings.db_url)
    try:
        assert "no run_summary recipients" in await send_flow_alert(
            engine, smtp, "dashboard_daily", "r1", "Crashed", "worker died"
        )
        async with session_factory(engine)() as session, session.begin():
            await add_recipient(session, "run_summary", "owner@example.com", pipeline_code="dashboard_daily")
            await add_recipient(
                session, "run_summary", "admin@example.com", pipeline_code="dashboard_daily", send_as="cc"
            )
        result = await send_flow_alert(engine, smtp, "dashboard_daily", "r1", "Crashed", "worker died")
        assert result.startswith("alert sent")
        assert len(handler.messages) == 1
        message = handler.messages[0]["message"]
        assert message["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run Crashed"  # type: ignore[index]
        assert set(handler.messages[0]["rcpt_tos"]) == {"owner@example.com", "admin@example.com"}  # type: ignore[arg-type]
        again = await send_flow_alert(engine, smtp, "dashboard_daily", "r1", "Crashed", "worker died")
        assert "already delivered" in again and len(handler.messages) == 1
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(EmailSend))).scalars().all()
        assert [(r.profile_code, r.status) for r in rows] == [("alert", "sent")]
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
        assert (await send_flow_alert(engine, down, "dashboard_daily", "r2", "Failed", "x")).startswith(
            "alert failed"
        )
        up = down.model_copy(update={"smtp_port": port})
        assert (await send_flow_alert(engine, up, "dashboard_daily", "r2", "Failed", "x")).startswith(
            "alert sent"
        )
        assert len(handler.messages) == 1
        # A run whose summary email went out gets no extra alert.
        logger = EventLogger("r2", "dashboard_daily", stream=io.StringIO())
        outcome = await send_notifications_for_run(engine, up, "dashboard_daily", "no-summary", logger)
        assert outcome.planned == 0
    finally:
        await engine.dispose()
