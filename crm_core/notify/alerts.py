"""Alert emails for failed, crashed or missed flow runs: self-hosted Prefect has no email action.

Alerts go to the pipeline's run-summary recipients; when the database cannot be read (or lists nobody),
to `ALERT_EMAIL_TO`, so a run that failed because the database is down still reaches someone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailSend, NotificationProfile, NotificationRecipient
from crm_core.db.models import Pipeline as PipelineRow
from crm_core.json_logger import describe_exception, redact_text
from crm_core.notify.engine import DELIVERED, deliver_with_retries, record_send, sending_turn
from crm_core.notify.plans import EmailPlan, format_address
from crm_core.notify.transport import DeliveryError
from crm_core.pipelines import ALERT_PROFILE_CODE, Pipeline, pipeline_for_flow
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
    return await _alert_once(
        engine,
        settings,
        pipeline,
        run_id,
        sent_before="run summary or alert already delivered for this run: no alert sent",
        subject=f"[TSV Pipeline ALERT] {pipeline.code} run {state_name}",
        text=f"The {pipeline.code} run {run_id} ended in state {state_name}.\n\n{message}\n",
    )


async def _alert_once(
    engine: AsyncEngine,
    settings: Settings,
    pipeline: Pipeline,
    key: str,
    *,
    sent_before: str,
    subject: str,
    text: str,
) -> str:
    """Deliver the alert recorded under `key` unless the send log already has it (then `sent_before`)."""
    async with _turn_if_reachable(engine, pipeline):
        try:
            if await summary_already_sent(engine, pipeline, key):
                return sent_before
        except Exception:  # the database is down: `_deliver_alert` says so and falls back to ALERT_EMAIL_TO
            pass
        return await _deliver_alert(engine, settings, pipeline, key, subject=subject, text=text)


@contextlib.asynccontextmanager
async def _turn_if_reachable(engine: AsyncEngine, pipeline: Pipeline) -> AsyncIterator[None]:
    """The pipeline's sending turn, so that two alerts about one run (the flow's own failure hook and the
    automation's, or an event seen twice) cannot both find nothing sent and both send. Without a database
    there is no turn to take and no send log to read: the alert goes out to ALERT_EMAIL_TO regardless."""
    async with contextlib.AsyncExitStack() as stack:
        with contextlib.suppress(Exception):
            await stack.enter_async_context(sending_turn(engine, pipeline.code))
        yield


def missed_run_key(run_id: str) -> str:
    """The send-log key of a missed-run alert: its own, so a later failure alert of the same flow run
    is not taken for already sent."""
    return f"missed:{run_id}"


async def send_missed_run_alert(
    engine: AsyncEngine,
    settings: Settings,
    pipeline: Pipeline,
    run_id: str,
    state_name: str,
    expected_at: datetime | None,
    now: datetime,
) -> str:
    """Email that the pipeline's run `run_id`, expected at `expected_at`, has not completed by `now`: it
    never started (no worker) or is still running. Once per run; returns what happened, in one line."""
    key = missed_run_key(run_id)
    when = f"expected at {expected_at:%Y-%m-%d %H:%M} UTC" if expected_at else "expected start unknown"
    waited = f" {_span(now - expected_at)} later" if expected_at else ""
    return await _alert_once(
        engine,
        settings,
        pipeline,
        key,
        sent_before="missed-run alert already delivered for this run: no alert sent",
        subject=f"[TSV Pipeline ALERT] {pipeline.code} run not completed",
        text=(
            f"The {pipeline.code} run {run_id} ({when}) has not completed{waited}; "
            f"its state is {state_name}.\n\n"
            "Late: no worker picked it up (is the worker running?). Running: it is still going or hung.\n"
        ),
    )


def _span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds()) // 60, 0)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class AlertKind(StrEnum):
    FAILED = "failed"  # the run ended Failed or Crashed
    MISSED = "missed"  # the run has not completed by its expected time plus the grace period


@dataclass(frozen=True)
class WatchedRun:
    """What an alert needs to know of the flow run it is about (read from Prefect by the alert flow)."""

    flow_run_id: str
    flow_name: str
    state_type: str  # COMPLETED, FAILED, LATE is SCHEDULED, …
    state_name: str
    message: str
    expected_at: datetime | None
    dry_run: bool


async def alert_for_run(
    engine: AsyncEngine, settings: Settings, run: WatchedRun, kind: AlertKind, now: datetime
) -> str:
    """The alert flow's decision: which alert `run` gets, if any; returns what happened, in one line.

    A dry run promised to send nothing, and a run that completed meanwhile needs no missed-run alert. The
    state message is redacted: it may quote an exception carrying a secret or personal data."""
    pipeline = pipeline_for_flow(run.flow_name)
    if pipeline is None:
        return f"flow {run.flow_name!r} is not a pipeline: no alert sent"
    if run.dry_run:
        return f"dry run {run.state_name}: no alert email sent"
    if kind is AlertKind.MISSED:
        if run.state_type == "COMPLETED":
            return f"{pipeline.code} run {run.flow_run_id} completed meanwhile: no alert sent"
        return await send_missed_run_alert(
            engine, settings, pipeline, run.flow_run_id, run.state_name, run.expected_at, now
        )
    message = redact_text(run.message or "no message")
    return await send_flow_alert(engine, settings, pipeline, run.flow_run_id, run.state_name, message)


async def _deliver_alert(
    engine: AsyncEngine, settings: Settings, pipeline: Pipeline, run_id: str, *, subject: str, text: str
) -> str:
    """Send one alert to the run-summary recipients (else ALERT_EMAIL_TO) and record it under `run_id`."""
    database_error: str | None = None
    try:
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
        subject=subject,
        text=(
            f"{text}{note}\n"
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
