"""Which emails a run sends: profiles, templates, recipients, documents → plans."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formataddr
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import (
    Document,
    EmailTemplate,
    NotificationProfile,
    NotificationRecipient,
    Pipeline,
    PipelineRunSummary,
    StoreMaster,
)
from crm_core.notify.templates import RenderJob, default_email, render_all
from crm_core.pipelines import PIPELINES

COMBINED_STORE = "ALL"


def store_document_type(pipeline_code: str, profile_code: str) -> str | None:
    """The document type a store-scope profile sends (the registry's), None when it sends none."""
    pipeline = PIPELINES.get(pipeline_code)
    if pipeline is None or pipeline.store_profile.code != profile_code:
        return None
    return pipeline.document_type


@dataclass
class EmailPlan:
    pipeline_code: str
    profile_code: str
    store_code: str | None
    subject: str
    text: str
    html: str | None
    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    # The addresses as stored: the built message must go to exactly these (`transport.check_recipients`).
    stored_to: list[str] = field(default_factory=list)
    stored_cc: list[str] = field(default_factory=list)
    stored_bcc: list[str] = field(default_factory=list)

    @property
    def store_key(self) -> str:
        """'' for run-level emails: the send log's unique key needs a value."""
        return self.store_code or ""

    @property
    def label(self) -> str:
        return f"{self.profile_code}/{self.store_code or 'run'}"


@dataclass
class PlanResult:
    plans: list[EmailPlan] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # why something will not be sent
    run_env: str | None = None


@dataclass
class _Recipient:
    address: str  # as it goes in the header: "Name" <email>
    email: str  # as stored
    send_as: str
    store_code: str | None


def format_address(email: str, display_name: str | None) -> str:
    # formataddr quotes names with specials: "Doe, John" must not be split into two recipients.
    return formataddr((display_name, email)) if display_name else email


def _unique(recipients: list[_Recipient], exclude: set[str] | None = None) -> list[_Recipient]:
    seen = set(exclude or ())
    result = []
    for recipient in recipients:
        key = recipient.email.lower()  # one copy per address, whatever names it was stored with
        if key not in seen:
            seen.add(key)
            result.append(recipient)
    return result


def _split(
    recipients: list[_Recipient], promote_cc: bool
) -> tuple[list[_Recipient], list[_Recipient], list[_Recipient]]:
    to = _unique([r for r in recipients if r.send_as == "to"])
    cc = _unique([r for r in recipients if r.send_as == "cc"], {r.email.lower() for r in to})
    if promote_cc and not to:
        to, cc = cc, []
    bcc = _unique([r for r in recipients if r.send_as == "bcc"], {r.email.lower() for r in to + cc})
    return to, cc, bcc


def _one_line(text: str) -> str:
    # A subject is a header: newlines would let a template inject headers.
    return " ".join(text.split())


async def build_plans(session: AsyncSession, pipeline_code: str, run_id: str) -> PlanResult:
    result = PlanResult()
    pipeline = (
        await session.execute(select(Pipeline).where(Pipeline.code == pipeline_code))
    ).scalar_one_or_none()
    if pipeline is None:
        result.findings.append(f"pipeline {pipeline_code} is not registered in notification metadata")
        return result
    summary = (
        await session.execute(select(PipelineRunSummary).where(PipelineRunSummary.run_id == run_id))
    ).scalar_one_or_none()
    if summary is None:
        result.findings.append(f"run summary for run {run_id} not found")
        return result
    if summary.pipeline_name != pipeline_code:
        result.findings.append(
            f"run {run_id} belongs to pipeline {summary.pipeline_name}, not {pipeline_code} "
            f"(use --pipeline {summary.pipeline_name})"
        )
        return result
    result.run_env = summary.run_env
    envs = ("any", summary.run_env)

    documents = (
        (
            await session.execute(
                select(Document).where(
                    Document.reference_name_1 == "pipeline",
                    Document.reference_id_1 == pipeline_code,
                    Document.reference_name_2 == "run_id",
                    Document.reference_id_2 == run_id,
                    Document.status == "ok",
                    Document.storage_backend == "fs",
                    Document.file_path.is_not(None),
                    Document.deleted_at.is_(None),
                )
            )
        )
        .scalars()
        .all()
    )
    profiles = (
        (
            await session.execute(
                select(NotificationProfile)
                .where(
                    NotificationProfile.pipeline_id == pipeline.id,
                    NotificationProfile.is_active,
                    NotificationProfile.env.in_(envs),
                )
                .order_by(NotificationProfile.id)
            )
        )
        .scalars()
        .all()
    )
    if not profiles:
        result.findings.append(
            f"pipeline {pipeline_code} has no active notification profile for env {summary.run_env}"
        )
        return result
    profile_ids = [p.id for p in profiles]
    templates = {
        t.profile_id: t
        for t in (
            await session.execute(
                select(EmailTemplate).where(
                    EmailTemplate.profile_id.in_(profile_ids),
                    EmailTemplate.name == "default",
                    EmailTemplate.is_active,
                )
            )
        ).scalars()
    }
    recipients: dict[int, list[_Recipient]] = defaultdict(list)
    for r in (
        await session.execute(
            select(NotificationRecipient)
            .where(
                NotificationRecipient.profile_id.in_(profile_ids),
                NotificationRecipient.is_active,
                NotificationRecipient.env.in_(envs),
            )
            .order_by(NotificationRecipient.id)
        )
    ).scalars():
        recipients[r.profile_id].append(
            _Recipient(
                format_address(r.email_address.strip(), r.display_name),
                r.email_address.strip(),
                r.send_as,
                r.store_code.strip().upper() if r.store_code else None,
            )
        )
    store_codes = sorted({(d.reference_id_3 or "").upper() for d in documents} - {"", COMBINED_STORE})
    names = {
        code.upper(): name
        for code, name in (
            await session.execute(
                select(StoreMaster.store_code, StoreMaster.store_name).where(
                    func.upper(StoreMaster.store_code).in_(store_codes)
                )
            )
        ).all()
    }
    base_context: dict[str, Any] = {
        "pipeline_name": pipeline.code,
        "pipeline_description": pipeline.description,
        "run_id": run_id,
        "run_env": summary.run_env,
        "report_date": summary.report_date.isoformat() if summary.report_date else "",
        "overall_status": summary.overall_status,
        "summary_text": summary.summary_text,
    }

    pending: list[_Pending] = []
    for profile in profiles:
        where = f"{pipeline_code}/{profile.code}"
        template = templates.get(profile.id)
        if template is None:
            result.findings.append(f"profile {where} has no active 'default' template")
            continue
        profile_recipients = recipients.get(profile.id, [])
        if not profile_recipients:
            result.findings.append(f"profile {where} has no active recipient for env {summary.run_env}")
            continue

        def plan(
            context: dict[str, Any],
            to: list[_Recipient],
            cc: list[_Recipient],
            bcc: list[_Recipient],
            files: list[Path],
            store: str | None,
            template: EmailTemplate = template,
            profile_code: str = profile.code,
        ) -> None:
            email = EmailPlan(
                pipeline_code,
                profile_code,
                store,
                "",
                "",
                None,
                [r.address for r in to],
                [r.address for r in cc],
                [r.address for r in bcc],
                files,
                stored_to=[r.email for r in to],
                stored_cc=[r.email for r in cc],
                stored_bcc=[r.email for r in bcc],
            )
            result.plans.append(email)
            pending.append(_Pending(email, template, context))

        if profile.scope == "run":
            run_level = [r for r in profile_recipients if r.store_code is None]
            to, cc, bcc = _split(run_level, promote_cc=False)
            if not to:
                result.findings.append(f"profile {where} has no 'to' recipient without a store code")
                continue
            if profile.attach_mode == "all_docs_for_run":
                files = [Path(d.file_path) for d in documents if d.file_path]
            elif profile.attach_mode == "all_store_pdfs":
                files = [Path(d.file_path) for d in documents if d.file_path and d.reference_id_3]
            elif profile.attach_mode == "combined_pdf":
                files = [
                    Path(d.file_path)
                    for d in documents
                    if d.file_path and (d.reference_id_3 or "").upper() == COMBINED_STORE
                ]
            else:
                files = []
            plan(dict(base_context), to, cc, bcc, [f for f in files if f.is_file()], None)
        elif profile.scope == "store":
            doc_type = store_document_type(pipeline_code, profile.code)
            if doc_type is None:
                result.findings.append(
                    f"profile {where}: store scope is not defined for this pipeline/profile"
                )
                continue
            by_store: dict[str, list[Path]] = defaultdict(list)
            for d in documents:
                code = (d.reference_id_3 or "").upper()
                if d.doc_type == doc_type and code and code != COMBINED_STORE and d.file_path:
                    by_store[code].append(Path(d.file_path))
            if not by_store:
                result.findings.append(f"profile {where}: no {doc_type} documents for run {run_id}")
            for code in sorted(by_store):
                to, cc, bcc = _split(
                    [r for r in profile_recipients if r.store_code in (None, code)], promote_cc=True
                )
                if not to:
                    result.findings.append(f"profile {where}: no recipient for store {code}")
                    continue
                files = [f for f in by_store[code] if f.is_file()]
                if profile.attach_mode == "per_store_pdf" and not files:
                    result.findings.append(f"profile {where}: PDF for store {code} is missing on disk")
                    continue
                context = base_context | {"store_code": code, "store_name": names.get(code) or code}
                plan(context, to, cc, bcc, files, code)
        else:
            result.findings.append(f"profile {where}: scope {profile.scope!r} is not supported")
    await _render(pending, result.findings)
    return result


@dataclass
class _Pending:
    """A planned email whose subject and bodies are still to be rendered from its stored template."""

    plan: EmailPlan
    template: EmailTemplate
    context: dict[str, Any]


async def _render(pending: list[_Pending], findings: list[str]) -> None:
    """Render every planned email's template parts in one bounded batch. An email any part of whose
    template fails gets the plain-text default instead, with a finding naming the template, the part and
    the problem; the other emails are untouched."""
    jobs: list[RenderJob] = []
    for item in pending:
        jobs += [
            RenderJob(item.template.subject_template, item.context),
            RenderJob(item.template.body_template, item.context),
        ]
        if item.template.html_template:
            jobs.append(RenderJob(item.template.html_template, item.context, html=True))
    results = iter(await asyncio.to_thread(render_all, jobs) if jobs else [])
    for item in pending:
        email = item.plan
        parts = {"subject": next(results), "body": next(results)}
        if item.template.html_template:
            parts["html"] = next(results)
        failed = [f"{part}: {r.error}" for part, r in parts.items() if r.error is not None or r.text is None]
        if failed:
            findings.append(
                f"template {email.pipeline_code}/{email.profile_code} failed for "
                f"{f'store {email.store_code}' if email.store_code else 'the run'} "
                f"({'; '.join(failed)}): the plain-text default is used for this email"
            )
            subject, email.text = default_email(item.context)
            email.html = None
        else:
            subject, email.text = parts["subject"].text or "", parts["body"].text or ""
            email.html = parts["html"].text if "html" in parts else None
        email.subject = _one_line(subject)
