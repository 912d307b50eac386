"""Send a run's notifications once: plan, deliver with retries, record every email in `email_sends`."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.db.engine import session_factory
from crm_core.db.locks import take_turns
from crm_core.db.models import EmailSend, PipelineRunSummary
from crm_core.db.runs import load_run_summary
from crm_core.json_logger import EventLogger, describe_exception
from crm_core.notify.plans import EmailPlan, PlanResult, build_plans
from crm_core.notify.transport import Delivery, DeliveryError, send_smtp, write_outbox
from crm_core.settings import Settings
from crm_core.status import Status

PHASE = "report_email"
DELIVERED = ("sent", "outbox")
NOTHING_PLANNED = "no notification emails scheduled for this run"


@dataclass
class NotifyOutcome:
    """The report_email phase of a run: what was planned, delivered, skipped and what went wrong."""

    planned: int = 0
    delivered: int = 0
    already_sent: int = 0
    failed: int = 0
    findings: list[str] = field(default_factory=list)
    transport: str = "smtp"
    messages: list[str] = field(default_factory=list)
    unrecorded: int = 0  # delivered but missing from the send log: a later send may repeat them
    problems: list[str] = field(default_factory=list)  # one line per failed or unrecorded email

    @property
    def status(self) -> Status:
        """Undelivered mail is a warning (the data is in; `crm notifications send` catches up); an email
        missing from the send log is an error, since a later send may repeat it."""
        if self.unrecorded:
            return Status.ERROR
        if self.failed or self.findings or not self.planned:
            return Status.WARNING
        return Status.OK

    @property
    def detail(self) -> str:
        if self.failed:
            return "partial" if self.delivered or self.already_sent else "failed"
        if not self.planned:
            return "nothing planned"
        return "outbox" if self.transport == "outbox" else "sent"

    @property
    def issues(self) -> list[str]:
        nothing = [] if self.planned else [NOTHING_PLANNED]
        return [*self.findings, *nothing, *self.problems]

    @property
    def message(self) -> str:
        """What this run sent; emails an earlier run of the date sent are counted apart, not as sent now."""
        if not self.already_sent:
            return f"{self.delivered} of {self.planned} emails delivered"
        line = f"{self.delivered} email{'' if self.delivered == 1 else 's'} sent"
        if self.failed:
            line += f", {self.failed} failed"
        return line + f" ({self.already_sent} already sent for this date)"

    def as_metrics(self) -> dict[str, Any]:
        return {
            "status": self.detail,
            "planned": self.planned,
            "delivered": self.delivered,
            "already_sent": self.already_sent,
            "failed": self.failed,
            "transport": self.transport,
            "message": self.message,
            "last_message": self.messages[-1] if self.messages else None,
        }


async def deliver_with_retries(
    plan: EmailPlan, settings: Settings, run_id: str, *, attempts: int = 3, backoff_s: float = 2.0
) -> tuple[Delivery, int]:
    """Deliver one email; transient SMTP errors are retried with exponential backoff."""
    if not settings.smtp_host:
        return await asyncio.to_thread(write_outbox, plan, settings, run_id), 1
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.to_thread(send_smtp, plan, settings), attempt
        except DeliveryError as exc:
            if not exc.transient or attempt == attempts:
                exc.attempts = attempt
                exc.args = (f"{exc.args[0]} (after {attempt} attempt{'s' if attempt > 1 else ''})",)
                raise
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def sending_turn(engine: AsyncEngine, pipeline_code: str) -> AbstractAsyncContextManager[None]:
    """The pipeline's senders (the flow, `crm notifications send`, alerts) take turns: two at once would
    both read the send log before either wrote it, and deliver the same email twice."""
    return take_turns(engine, f"crm-notify:{pipeline_code}")


async def send_notifications_for_run(
    engine: AsyncEngine,
    settings: Settings,
    pipeline_code: str,
    run_id: str,
    logger: EventLogger,
    *,
    force: bool = False,
    attempts: int = 3,
    backoff_s: float = 2.0,
) -> NotifyOutcome:
    """Send every planned email of a run that was not delivered before (all of them with `force`)."""
    async with sending_turn(engine, pipeline_code):
        return await _send(engine, settings, pipeline_code, run_id, logger, force, attempts, backoff_s)


async def _send(
    engine: AsyncEngine,
    settings: Settings,
    pipeline_code: str,
    run_id: str,
    logger: EventLogger,
    force: bool,
    attempts: int,
    backoff_s: float,
) -> NotifyOutcome:
    outcome = NotifyOutcome(transport="smtp" if settings.smtp_host else "outbox")
    sessions = session_factory(engine)
    async with sessions() as session:
        plan_result: PlanResult = await build_plans(session, pipeline_code, run_id)
        run = await load_run_summary(session, run_id)
        run_status = run.overall_status if run is not None else None
        done = await delivered_before(session, pipeline_code, run_id, run)
    outcome.findings = plan_result.findings
    for finding in plan_result.findings:
        logger.event(PHASE, "warn", finding)
    outcome.planned = len(plan_result.plans)
    if not plan_result.plans:
        logger.event(PHASE, "warn", NOTHING_PLANNED)
        return outcome
    if outcome.transport == "outbox":
        logger.event(PHASE, "info", f"SMTP_HOST is not set: emails go to {settings.outbox_path}")

    for plan in plan_result.plans:
        if (plan.profile_code, plan.store_key) in done and not force:
            outcome.already_sent += 1
            logger.event(
                PHASE,
                "info",
                f"email {plan.label} already sent for this run or report date, skipped",
                store_code=plan.store_code,
            )
            continue
        record: dict[str, Any] = {
            "run_id": run_id,
            "pipeline_code": pipeline_code,
            "profile_code": plan.profile_code,
            "store_code": plan.store_key,
            "subject": plan.subject,
            "recipients": {"to": plan.to, "cc": plan.cc, "bcc": plan.bcc},
            "attachments": [p.name for p in plan.attachments],
            "run_status": run_status if not plan.store_key else None,
            "updated_at": datetime.now(UTC),
        }
        try:
            delivery, tries = await deliver_with_retries(
                plan, settings, run_id, attempts=attempts, backoff_s=backoff_s
            )
        except (DeliveryError, OSError) as exc:
            outcome.failed += 1
            message = str(exc) if isinstance(exc, DeliveryError) else describe_exception(exc)
            outcome.messages.append(f"{plan.label}: {message}")
            tries = exc.attempts if isinstance(exc, DeliveryError) else 1
            record |= {"status": "failed", "error_message": message, "attempts": tries}
            outcome.problems.append(f"email {plan.label} failed: {message}")
            logger.event(PHASE, "warn", outcome.problems[-1], store_code=plan.store_code)
        else:
            outcome.delivered += 1
            record |= {
                "status": delivery.status,
                "attempts": tries,
                "message_id": delivery.message_id,
                "sent_at": datetime.now(UTC),
                "error_message": None,
            }
            logger.event(
                PHASE,
                "ok",
                f"email {plan.label} {'sent' if delivery.status == 'sent' else 'written to outbox'}",
                store_code=plan.store_code,
                attachments=len(plan.attachments),
                recipients=len(plan.to) + len(plan.cc) + len(plan.bcc),
            )
        try:
            await _record_with_one_retry(engine, record)
        except Exception as exc:  # the email is out; the other emails must still go
            outcome.messages.append(f"{plan.label}: not recorded in the send log")
            outcome.unrecorded += 1
            outcome.problems.append(
                f"email {plan.label}: {record['status']} but not recorded in the send log "
                "(a later send may repeat it)"
            )
            logger.event(PHASE, "error", outcome.problems[-1], store_code=plan.store_code, exc=exc)
    return outcome


async def _record_with_one_retry(engine: AsyncEngine, record: dict[str, Any], delay_s: float = 1.0) -> None:
    try:
        await record_send(engine, record)
    except Exception:
        await asyncio.sleep(delay_s)  # a database blip: the row matters, it prevents a double send
        await record_send(engine, record)


async def delivered_before(
    session: AsyncSession, pipeline_code: str, run_id: str, this: PipelineRunSummary | None
) -> set[tuple[str, str]]:
    """(profile, store) pairs whose email must not go out again for this run.

    A rerun of the same report date is a new run, but its recipients already have that date's store
    reports: those count as delivered. A run-level email (the run summary) counts as delivered when it
    went out for this run, or when the latest one delivered for the date reported the status this run
    has now — so a rerun that fixed (or broke) the date always tells the operator. `this` is the run's
    stored summary (None when it has none)."""
    delivered = EmailSend.pipeline_code == pipeline_code, EmailSend.status.in_(DELIVERED)
    if this is None or this.report_date is None:
        rows = await session.execute(
            select(EmailSend.profile_code, EmailSend.store_code).where(*delivered, EmailSend.run_id == run_id)
        )
        return {(profile, store) for profile, store in rows.all()}
    same_date = select(PipelineRunSummary.run_id).where(
        PipelineRunSummary.pipeline_name == pipeline_code,
        PipelineRunSummary.report_date == this.report_date,
    )
    rows = await session.execute(
        select(EmailSend.profile_code, EmailSend.store_code, EmailSend.run_id, EmailSend.run_status)
        .where(*delivered, or_(EmailSend.run_id == run_id, EmailSend.run_id.in_(same_date)))
        .order_by(EmailSend.sent_at, EmailSend.id)
    )
    done: set[tuple[str, str]] = set()
    latest_status: dict[str, str | None] = {}  # run-level profile → status of its latest delivered email
    for profile, store, sent_run, status in rows.all():
        if store or sent_run == run_id:
            done.add((profile, store))
        else:
            latest_status[profile] = status
    done |= {(profile, "") for profile, status in latest_status.items() if status == this.overall_status}
    return done


async def record_send(engine: AsyncEngine, values: dict[str, Any]) -> None:
    """Upsert the send-log row of one email (one row per run, profile and store)."""
    async with session_factory(engine)() as session, session.begin():
        existing = (
            await session.execute(
                select(EmailSend).where(
                    EmailSend.run_id == values["run_id"],
                    EmailSend.profile_code == values["profile_code"],
                    EmailSend.store_code == values["store_code"],
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            existing = EmailSend(attempts=0, **{k: v for k, v in values.items() if k != "attempts"})
            session.add(existing)
        else:
            for key, value in values.items():
                if key != "attempts":
                    setattr(existing, key, value)
        existing.attempts = (existing.attempts or 0) + int(values.get("attempts", 1))


def delivery_notes(settings: Settings) -> list[str]:
    """What `crm notifications test` says about how emails go out, without it counting as a problem."""
    if settings.smtp_host is None:
        return [f"SMTP_HOST is not set: outbox mode, emails are written to {settings.outbox_path}"]
    return []


async def diagnose(engine: AsyncEngine, settings: Settings, pipeline_code: str, run_id: str) -> list[str]:
    """`crm notifications test`: every reason an email of this run would not go out."""
    findings: list[str] = []
    # No SMTP_HOST is outbox mode, the documented default: a note (`delivery_notes`), not a finding.
    if settings.smtp_host is not None and settings.smtp_username and settings.smtp_password is None:
        findings.append("SMTP_USERNAME is set but SMTP_PASSWORD is not")
    async with session_factory(engine)() as session:
        result = await build_plans(session, pipeline_code, run_id)
    findings += result.findings
    if not result.plans and not any(
        "not found" in f or "not registered" in f or "belongs to pipeline" in f for f in result.findings
    ):
        findings.append("No notification emails would be scheduled for this run")
    if settings.smtp_host:
        try:
            await asyncio.to_thread(_probe_smtp, settings)
        except Exception as exc:
            findings.append(
                f"SMTP server {settings.smtp_host}:{settings.smtp_port} unreachable: "
                f"{describe_exception(exc)}"
            )
    return findings


def _probe_smtp(settings: Settings) -> None:
    import smtplib

    assert settings.smtp_host is not None
    cls = smtplib.SMTP_SSL if settings.smtp_security == "ssl" else smtplib.SMTP
    with cls(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as client:
        client.ehlo()
        if settings.smtp_security == "starttls":
            client.starttls()
        if settings.smtp_username and settings.smtp_password:
            client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
