"""`pipeline_run_summaries`: one row per run, written from its record and read back as one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import PipelineRunSummary
from crm_core.db.runs import load_run_summary
from crm_core.pipelines import get_pipeline
from crm_core.runs.record import RunRecord
from crm_core.runs.summary import render
from crm_core.status import PhaseOutcome, PhaseResult

if TYPE_CHECKING:
    from crm_core.notify.engine import NotifyOutcome

EMAIL_PHASE = "report_email"


async def save_run_record(session: AsyncSession, record: RunRecord) -> str:
    """Insert or update the run's row (one per run_id), so the stored summary always shows the final
    state; returns the summary text written."""
    text = render(record)
    values: dict[str, Any] = {
        "pipeline_name": record.pipeline.code,
        "run_id": record.run_id,
        "run_env": record.env,
        "started_at": record.started_at,
        "finished_at": record.finished_at or record.started_at,
        "total_time_taken": record.duration,
        "report_date": record.report_date,
        "period_start": record.period_start,
        "overall_status": record.status.value,
        "summary_text": text,
        "phases_json": record.phases_json(),
        "metrics_json": record.metrics_json(),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(PipelineRunSummary).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id"], set_={k: v for k, v in values.items() if k != "run_id"}
    )
    await session.execute(statement)
    return text


def record_from_row(row: PipelineRunSummary) -> RunRecord:
    """The stored run as a record: its phases as stored, its metrics as stored (issues recomputed)."""
    metrics = {k: v for k, v in (row.metrics_json or {}).items() if k not in ("dry_run", "issues")}
    record = RunRecord(
        get_pipeline(row.pipeline_name),
        row.run_id,
        row.run_env or "",
        report_date=row.report_date,
        period_start=row.period_start,
        dry_run=bool((row.metrics_json or {}).get("dry_run")),
        started_at=row.started_at,
        finished_at=row.finished_at,
        metrics=lambda _record: metrics,
    )
    for phase, stored in (row.phases_json or {}).items():
        if phase in record.pipeline.phases:
            record.set_phase(phase, PhaseResult.from_json(stored))
    return record


async def load_run_record(session: AsyncSession, run_id: str) -> RunRecord | None:
    row = await load_run_summary(session, run_id)
    return None if row is None else record_from_row(row)


async def record_email_catch_up(session: AsyncSession, run_id: str, outcome: NotifyOutcome) -> str | None:
    """After `crm notifications send`, the stored summary shows the email phase as it is now: its
    outcome replaces the stored one and the summary is rendered again. Returns the run's status as
    stored, None when the run has no summary."""
    record = await load_run_record(session, run_id)
    if record is None:
        return None
    stored = record.metrics(record)
    email: PhaseOutcome = outcome
    record.set_phase(EMAIL_PHASE, email)
    record.metrics = lambda _record: {**stored, "email": outcome.as_metrics()}
    await save_run_record(session, record)
    return record.status.value
