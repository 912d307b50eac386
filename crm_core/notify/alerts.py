"""Alert emails for failed or crashed flow runs: self-hosted Prefect has no email action.

Alerts go to the pipeline's run-summary recipients; when the database cannot be read (or lists nobody),
to `ALERT_EMAIL_TO`, so a run that failed because the database is down still reaches someone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailSend, NotificationProfile, NotificationRecipient
from crm_core.db.models import Pipeline as PipelineRow
from crm_core.json_logger import describe_exception
from crm_core.notify.engine import DELIVERED, deliver_with_retries, record_send
from crm_core.notify.plans import EmailPlan, format_address
from crm_core.notify.transport import DeliveryError
from crm_core.pipelines import ALERT_PROFILE_CODE, Pipeline
from crm_core.settings import Settings


async def run_summary_recipients(
    engine: AsyncEngine, pipeline: Pipeline, run_env: str
) -> list[tuple[str, str]]:
    """Everyone on the pipeline's run-summary profile (to, cc and bcc alike): alerts go to all of them.
    (header address, stored address) pairs."""
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(NotificationRecipient.email_address, NotificationRecipient.display_name)
                .join(NotificationProfile, NotificationProfile.id == NotificationRecipient.profile_id)
                .join(PipelineRow, PipelineRow.id == NotificationProfile.pipeline_id)
                .where(
                    PipelineRow.code == pipeline.code,
                    NotificationProfile.code == pipeline.summary_profile.code,
                    NotificationProfile.is_active,
                    NotificationRecipient.is_active,
                    NotificationRecipient.env.in_(("any", run_env)),
                    NotificationRecipient.store_code.is_(None),
                )
                .order_by(NotificationRecipient.id)
            )
        ).all()
    seen: dict[str, tuple[str, str]] = {}
    for address, name in rows:
        seen.setdefault(address.lower(), (format_address(address, name), address))
    return list(seen.values())


async def summary_already_sent(engine: AsyncEngine, pipeline: Pipeline, run_id: str) -> bool:
    async with session_factory(engine)() as session:
        row = (
            await session.execute(
                select(EmailSend.id).where(
                    EmailSend.run_id == run_id,
                    EmailSend.profile_code.in_((pipeline.summary_profile.code, ALERT_PROFILE_CODE)),
                    EmailSend.status.in_(DELIVERED),
                )
            )
        ).first()
    return row is not None


async def send_flow_alert(
    engine: AsyncEngine,
    settings: Settings,
    pipeline: Pipeline,
    run_id: str,
    state_name: str,
    message: str,
) -> str:
    """Email the run-summary recipients (else ALERT_EMAIL_TO) that a run failed; returns what happened,
    in one line."""
    database_error: str | None = None
    try:
        if await summary_already_sent(engine, pipeline, run_id):
            return "run summary or alert already delivered for this run: no alert sent"
        recipients = await run_summary_recipients(engine, pipeline, settings.crm_run_env.value)
    except Exception as exc:  # the database is down: its recipients are out of reach
        database_error, recipients = describe_exception(exc), []
    recipients = recipients or [(address, address) for address in settings.alert_recipients]
    if not recipients:
        why = f"database unreachable ({database_error})" if database_error else "no run_summary recipients"
        return f"{why} for {pipeline.code} and ALERT_EMAIL_TO is not set: no alert sent"
    note = (
        f"\nThe database could not be read ({database_error}); this alert went to ALERT_EMAIL_TO.\n"
        if database_error
        else ""
    )
    plan = EmailPlan(
        pipeline_code=pipeline.code,
        profile_code=ALERT_PROFILE_CODE,
        store_code=None,
        subject=f"[TSV Pipeline ALERT] {pipeline.code} run {state_name}",
        text=(
            f"The {pipeline.code} run {run_id} ended in state {state_name}.\n\n{message}\n{note}\n"
            "Open the run in the Prefect UI for its logs; rerun it with `prefect deployment run` "
            "or `crm run`.\n"
        ),
        html=None,
        to=[header for header, _ in recipients],
        stored_to=[address for _, address in recipients],
    )
    try:
        delivery, _ = await deliver_with_retries(plan, settings, run_id, attempts=2, backoff_s=1.0)
    except DeliveryError as exc:
        status, detail = "failed", str(exc)
    else:
        status, detail = delivery.status, delivery.where
    if database_error:
        return f"alert {status}: {detail} (not recorded in the send log: database unreachable)"
    await record_send(
        engine,
        {
            "run_id": run_id,
            "pipeline_code": pipeline.code,
            "profile_code": ALERT_PROFILE_CODE,
            "store_code": "",
            "subject": plan.subject,
            "recipients": {"to": plan.to, "cc": [], "bcc": []},
            "attachments": [],
            "status": status,
            "attempts": 1,
            "error_message": detail if status == "failed" else None,
            "sent_at": datetime.now(UTC) if status != "failed" else None,
            "updated_at": datetime.now(UTC),
        },
    )
    return f"alert {status}: {detail}"
