"""Run summaries (`pipeline_run_summaries`, DOMAIN B5.7 / B8.3, A10): status, phases, metrics, text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import PipelineRunSummary

DAILY_PHASE_ORDER = ("db", "download", "merge", "ingest", "audit", "cleanup", "report", "report_email")
MAX_DURATION_S = 99 * 3600 + 59 * 60 + 59  # the HH:MM:SS column cannot say more


def overall_status(phases: Mapping[str, Mapping[str, int]]) -> str:
    """error if any phase had an error, else warning if any had a warning, else ok (B5.7)."""
    if any(counts.get("error", 0) for counts in phases.values()):
        return "error"
    if any(counts.get("warning", 0) for counts in phases.values()):
        return "warning"
    return "ok"


def hhmmss(seconds: float) -> str:
    total = min(max(round(seconds), 0), MAX_DURATION_S)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class RunSummary:
    pipeline_name: str
    run_id: str
    run_env: str
    started_at: datetime
    finished_at: datetime
    report_date: date | None
    phases: dict[str, dict[str, int]]
    metrics: dict[str, Any]
    issues: list[str] = field(default_factory=list)
    period_start: date | None = None
    details: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return overall_status(self.phases)

    @property
    def duration(self) -> str:
        return hhmmss((self.finished_at - self.started_at).total_seconds())

    def daily_text(self) -> str:
        """The daily layout of B5.7."""
        lines = [
            f"Pipeline: {self.pipeline_name}",
            f"Run ID: {self.run_id}",
            f"Env: {self.run_env}",
            f"Report Date: {self.report_date.isoformat() if self.report_date else 'unknown'}",
            f"Started: {iso_z(self.started_at)}  Finished: {iso_z(self.finished_at)}  "
            f"Duration: {self.duration}",
            f"Status: {self.status}",
            "",
            "Phases:",
        ]
        stores = self.metrics.get("stores", {})
        buckets = self.metrics.get("buckets", {})
        for phase in DAILY_PHASE_ORDER:
            if phase not in self.phases:
                continue
            extra = ""
            if phase == "download":
                extra = f" ({len(stores.get('processed', []))}/{len(stores.get('configured', []))} stores)"
            elif phase == "merge":
                extra = f" ({len(buckets)} buckets)"
            elif phase == "report":
                extra = f" ({self.metrics.get('pdf', {}).get('generated', 0)} PDFs)"
            elif phase == "report_email":
                extra = f" ({self.metrics.get('email', {}).get('status', 'unknown')})"
            lines.append(f"- {phase}: {overall_status({phase: self.phases[phase]}).upper()}{extra}")
        processed = stores.get("processed") or []
        lines += [
            "",
            "Data:",
            f"- Stores processed: {', '.join(processed) if processed else 'None'}",
            "- Buckets:",
        ]
        for bucket, info in buckets.items():
            counts = info.get("counts", {})
            rows = (
                counts.get("ingested_rows") or counts.get("merged_rows") or counts.get("download_total") or 0
            )
            lines.append(f"  - {bucket}: {rows} rows")
        lines += ["", "Issues:"]
        lines += [f"- {issue}" for issue in self.issues] or ["- None."]
        return "\n".join(lines)

    def period_text(self) -> str:
        """The weekly/monthly layout of B8.3."""
        lines = [
            f"Pipeline: {self.pipeline_name}",
            f"Env: {self.run_env}",
            f"Run ID: {self.run_id}",
            f"Report Date: {self.report_date.isoformat() if self.report_date else 'unknown'}",
            f"Started At: {iso_z(self.started_at)} UTC",
            f"Finished At: {iso_z(self.finished_at)} UTC",
            f"Total Time: {self.duration}",
            f"Overall Status: {self.status}",
            "",
            "Phases:",
        ]
        lines += [f"- {phase}: {overall_status({phase: c}).upper()}" for phase, c in self.phases.items()]
        if self.details or self.issues:
            lines += ["", "Details:"] + [f"- {line}" for line in [*self.details, *self.issues]]
        return "\n".join(lines)


async def save_run_summary(session: AsyncSession, summary: RunSummary, text: str) -> None:
    """Insert or update the run's row (one per run_id): the stored summary always shows the final state."""
    values: dict[str, Any] = {
        "pipeline_name": summary.pipeline_name,
        "run_id": summary.run_id,
        "run_env": summary.run_env,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "total_time_taken": summary.duration,
        "report_date": summary.report_date,
        "period_start": summary.period_start,
        "overall_status": summary.status,
        "summary_text": text,
        "phases_json": summary.phases,
        "metrics_json": summary.metrics,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(PipelineRunSummary).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id"], set_={k: v for k, v in values.items() if k != "run_id"}
    )
    await session.execute(statement)


async def load_run_summary(session: AsyncSession, run_id: str) -> PipelineRunSummary | None:
    result = await session.execute(select(PipelineRunSummary).where(PipelineRunSummary.run_id == run_id))
    return result.scalar_one_or_none()


async def record_email_catch_up(
    session: AsyncSession, run_id: str, email: dict[str, Any], *, all_delivered: bool, findings: int
) -> str | None:
    """After `crm notifications send`, the stored daily summary shows the email outcome as it is now
    (A8): with every planned email delivered, the email failures no longer count against the run.
    Returns the run's status as stored, None when the run has no summary."""
    row = await load_run_summary(session, run_id)
    if row is None:
        return None
    phases = {phase: dict(counts) for phase, counts in (row.phases_json or {}).items()}
    metrics = dict(row.metrics_json or {})
    issues = list(metrics.get("issues") or [])
    if all_delivered:
        phases["report_email"] = {**phases.get("report_email", {}), "warning": findings, "error": 0}
        issues = [issue for issue in issues if not _EMAIL_FAILURE.match(issue)]
    summary = RunSummary(
        row.pipeline_name,
        row.run_id,
        row.run_env or "",
        row.started_at,
        row.finished_at or row.started_at,
        row.report_date,
        phases,
        {**metrics, "email": email, "issues": issues},
        issues,
        period_start=row.period_start,
    )
    # Only the daily layout is rebuilt from its parts; a period summary keeps its text.
    text = summary.daily_text() if row.period_start is None else (row.summary_text or "")
    await save_run_summary(session, summary, text)
    return summary.status


_EMAIL_FAILURE = re.compile(r"^email .* failed")
