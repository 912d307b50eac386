"""Alert emails for failed or crashed flow runs (DOMAIN A8): self-hosted Prefect has no email action."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailSend, NotificationProfile, NotificationRecipient, Pipeline
from crm_core.notify.engine import DELIVERED, deliver_with_retries, record_send
from crm_core.notify.plans import EmailPlan, format_address
from crm_core.notify.transport import DeliveryError
from crm_core.settings import Settings

ALERT_PROFILE = "alert"


async def run_summary_recipients(engine: AsyncEngine, pipeline_code: str, run_env: str) -> list[str]:
    """Everyone on the pipeline's run_summary profile (to, cc and bcc alike): alerts go to all of them."""
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(NotificationRecipient.email_address, NotificationRecipient.display_name)
                .join(NotificationProfile, NotificationProfile.id == NotificationRecipient.profile_id)
                .join(Pipeline, Pipeline.id == NotificationProfile.pipeline_id)
                .where(
                    Pipeline.code == pipeline_code,
                    NotificationProfile.code == "run_summary",
                    NotificationProfile.is_active,
                    NotificationRecipient.is_active,
                    NotificationRecipient.env.in_(("any", run_env)),
                    NotificationRecipient.store_code.is_(None),
                )
                .order_by(NotificationRecipient.id)
            )
        ).all()
    seen: dict[str, str] = {}
    for address, name in rows:
        seen.setdefault(address.lower(), format_address(address, name))
    return list(seen.values())


async def summary_already_sent(engine: AsyncEngine, run_id: str) -> bool:
    async with session_factory(engine)() as session:
        row = (
            await session.execute(
                select(EmailSend.id).where(
                    EmailSend.run_id == run_id,
                    EmailSend.profile_code.in_(("run_summary", ALERT_PROFILE)),
                    EmailSend.status.in_(DELIVERED),
                )
            )
        ).first()
    return row is not None


async def send_flow_alert(
    engine: AsyncEngine,
    settings: Settings,
    pipeline_code: str,
    run_id: str,
    state_name: str,
    message: str,
) -> str:
    """Email the run-summary recipients that a run failed; returns what happened, in one line."""
    if await summary_already_sent(engine, run_id):
        return "run summary or alert already delivered for this run: no alert sent"
    recipients = await run_summary_recipients(engine, pipeline_code, settings.crm_run_env.value)
    if not recipients:
        return f"no run_summary recipients for {pipeline_code}: no alert sent"
    plan = EmailPlan(
        pipeline_code=pipeline_code,
        profile_code=ALERT_PROFILE,
        store_code=None,
        subject=f"[TSV Pipeline ALERT] {pipeline_code} run {state_name}",
        text=(
            f"The {pipeline_code} run {run_id} ended in state {state_name}.\n\n{message}\n\n"
            "Open the run in the Prefect UI for its logs; rerun it with `prefect deployment run` "
            "or `crm run`.\n"
        ),
        html=None,
        to=recipients,
    )
    try:
        delivery, _ = await deliver_with_retries(plan, settings, run_id, attempts=2, backoff_s=1.0)
    except DeliveryError as exc:
        status, detail = "failed", str(exc)
    else:
        status, detail = delivery.status, delivery.where
    await record_send(
        engine,
        {
            "run_id": run_id,
            "pipeline_code": pipeline_code,
            "profile_code": ALERT_PROFILE,
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
