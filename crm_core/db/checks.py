"""`crm db check`: schema, seeds, stores and recipients as the runs and the emails need them."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.db import migrate
from crm_core.db.engine import session_factory
from crm_core.db.models import (
    EmailTemplate,
    NotificationProfile,
    NotificationRecipient,
    Pipeline,
    StoreMaster,
)
from crm_core.json_logger import describe_exception
from crm_core.pipelines import PIPELINES

REQUIRED_TABLES = (
    "pipeline_run_summaries",
    "documents",
    "pipelines",
    "notification_profiles",
    "email_templates",
    "notification_recipients",
    "store_master",
    "store_dashboard_summary",
    "email_sends",
)


async def run_checks(engine: AsyncEngine) -> list[str]:
    """Every finding as one operator-readable line; an empty list means the database is ready."""
    head = migrate.head_revision()
    current = await migrate.current_revision(engine)
    if current != head:
        return [
            f"pending migrations: database at {current or 'no revision'}, code at {head} (crm db upgrade)"
        ]
    findings: list[str] = []
    async with engine.connect() as conn:
        for table in REQUIRED_TABLES:
            try:
                await conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
            except Exception as exc:
                findings.append(f"table {table} is not queryable: {describe_exception(exc)}")
    if findings:
        return findings
    async with session_factory(engine)() as session:
        findings += await _notification_findings(session)
        findings += await _store_findings(session)
    return findings


async def _notification_findings(session: AsyncSession) -> list[str]:
    findings: list[str] = []
    pipelines = {p.code: p for p in (await session.execute(select(Pipeline))).scalars()}
    for pipeline_code, registered in PIPELINES.items():
        profile_codes = [profile.code for profile in registered.profiles]
        pipeline = pipelines.get(pipeline_code)
        if pipeline is None:
            findings.append(f"pipeline {pipeline_code} is missing (crm db upgrade seeds it)")
            continue
        for profile_code in profile_codes:
            profile = (
                (
                    await session.execute(
                        select(NotificationProfile).where(
                            NotificationProfile.pipeline_id == pipeline.id,
                            NotificationProfile.code == profile_code,
                            NotificationProfile.is_active,
                        )
                    )
                )
                .scalars()
                .first()
            )
            where = f"{pipeline_code}/{profile_code}"
            if profile is None:
                findings.append(f"profile {where} is missing or inactive")
                continue
            template = (
                await session.execute(
                    select(EmailTemplate.id).where(
                        EmailTemplate.profile_id == profile.id,
                        EmailTemplate.name == "default",
                        EmailTemplate.is_active,
                    )
                )
            ).first()
            if template is None:
                findings.append(f"profile {where} has no active 'default' email template")
            recipient = (
                await session.execute(
                    select(NotificationRecipient.id).where(
                        NotificationRecipient.profile_id == profile.id, NotificationRecipient.is_active
                    )
                )
            ).first()
            if recipient is None:
                findings.append(
                    f"profile {where} has no active recipient (crm recipients add {profile_code} EMAIL)"
                )
    return findings


async def _store_findings(session: AsyncSession) -> list[str]:
    stores = (await session.execute(select(StoreMaster).where(StoreMaster.is_active))).scalars().all()
    findings: list[str] = []
    if not any(s.etl_flag for s in stores):
        findings.append("no stores are flagged for ETL (crm stores add CODE --etl)")
    not_etl = sorted(s.store_code for s in stores if s.report_flag and not s.etl_flag)
    if not_etl:
        findings.append(f"report stores that are not ETL stores: {', '.join(not_etl)}")
    known = {s.store_code.strip().upper() for s in (await session.execute(select(StoreMaster))).scalars()}
    recipients = (
        await session.execute(
            select(NotificationRecipient.id, NotificationRecipient.store_code).where(
                NotificationRecipient.is_active, NotificationRecipient.store_code.is_not(None)
            )
        )
    ).all()
    for recipient_id, code in recipients:
        wanted = code.strip().upper()
        if wanted and wanted not in known:
            # By id, not address: the address is personal data and `crm recipients list` shows it.
            findings.append(
                f"recipient {recipient_id} is for store {wanted}, which does not exist "
                f"(crm stores add {wanted}; until then it gets no email)"
            )
    return findings
