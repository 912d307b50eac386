"""Emails of a stored run sent later (`crm notifications send`): the send, then the stored summary shows
the email outcome as it is now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.runs import load_run_summary
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import NotifyOutcome, send_notifications_for_run
from crm_core.runs.store import record_email_catch_up
from crm_core.settings import Settings


@dataclass
class CatchUp:
    """What `catch_up_run_emails` did: the send outcome, and the run's status when its summary changed."""

    outcome: NotifyOutcome
    summary_status: str | None = None


async def catch_up_run_emails(
    engine: AsyncEngine, settings: Settings, run_id: str, *, force: bool = False
) -> CatchUp | None:
    """Send a stored run's emails that were not delivered yet (all with `force`); None when the run has no
    summary. When something went out, the stored summary is rewritten to show the email outcome as it is
    now, so a run whose only problem was SMTP ends up `ok`."""
    async with session_factory(engine)() as session:
        summary = await load_run_summary(session, run_id)
    if summary is None:
        return None
    logger = EventLogger(run_id, summary.pipeline_name, file_path=settings.json_log_file)
    outcome = await send_notifications_for_run(
        engine, settings, summary.pipeline_name, run_id, logger, force=force
    )
    if not outcome.delivered:
        return CatchUp(outcome)
    async with session_factory(engine)() as session, session.begin():
        status = await record_email_catch_up(session, run_id, outcome)
    return CatchUp(outcome, status)
