"""The weekly and monthly flows: catch up every complete period not produced yet, each as its own run.

Orchestration only: which periods are due, the claim on a period and the run record are crm_core's; every
step is a task. Per period: claim it (another run holding it gets it), check again that it is still due,
render the PDFs, save the summary, send the emails, save the summary again with the email outcome, publish
the artifacts. The first period produced takes the Prefect flow-run id as its run id, later ones a new
uuid, so every period's summary, documents and emails carry their own run id. The flow run ends Failed
when a period ended `error`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from crm_core.json_logger import EventLogger, describe_exception
from crm_core.periods import Period
from crm_core.pipelines import Pipeline
from crm_core.reports.documents import ReportsResult
from crm_core.runs.period import (
    DEFAULT_MAX_PERIODS,
    PeriodReportPhase,
    claim_period,
    claim_phase,
    period_option,
    period_record,
    produced_since,
    redo_command,
)
from crm_core.runs.record import RunRecord
from crm_core.runs.summary import render
from crm_core.status import Status, worst
from tasks.common import RunContext, run_context
from tasks.period import plan_period_runs, render_period
from tasks.prefect_logging import events_to_prefect
from tasks.runs import publish_artifacts, save_summary, send_notifications


@dataclass
class PeriodRun:
    """One line of the flow's result: a period produced, skipped, or (dry run) that would be produced."""

    period: Period
    action: str  # produced | skipped | planned
    reason: str = ""
    record: RunRecord | None = None
    pdfs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        record = self.record
        return {
            "label": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "action": self.action,
            "reason": self.reason,
            "run_id": record.run_id if record else None,
            "status": record.status.value if record else None,
            "pdfs": self.pdfs,
            "summary_text": render(record) if record else None,
        }


async def run_periods(
    pipeline: Pipeline, period: str | None, force: bool, max_periods: int | None, dry_run: bool
) -> State[Any]:
    """The body of both flows; returns the flow's final state with one entry per period in its data."""
    flow_run_id = str(flow_run.id) if flow_run.id else uuid.uuid4().hex
    began = datetime.now(UTC)
    with events_to_prefect():
        async with run_context(pipeline, flow_run_id) as ctx:
            target = period_option(pipeline, period)
            plan = await plan_period_runs(
                ctx.engine, ctx.settings, pipeline, target, force, max_periods or DEFAULT_MAX_PERIODS
            )
            ctx.logger.event(
                "orchestrator",
                "info",
                f"{len(plan.periods)} period(s) to produce"
                + (" (dry run: nothing written or sent)" if dry_run else ""),
                counts={"due": len(plan.periods), "left": plan.left, "done": len(plan.done)},
            )
            runs: list[PeriodRun] = []
            if target is not None and not plan.periods:
                done = plan.done[0][1] if plan.done else "ok"
                runs.append(
                    PeriodRun(
                        target, "skipped", f"already produced ({done}); `{redo_command(target)}` redoes it"
                    )
                )
            for due in plan.periods:
                if dry_run:
                    runs.append(PeriodRun(due, "planned", "dry run"))
                    continue
                produced = any(r.action == "produced" for r in runs)
                run_id = uuid.uuid4().hex if produced else flow_run_id
                runs.append(await produce(ctx, due, plan.report_stores, run_id, force=force, began=began))

    records = [r.record for r in runs if r.record is not None]
    status = worst(r.status for r in records)
    result = {
        "pipeline": pipeline.code,
        "status": status.value,
        "dry_run": dry_run,
        "periods": [r.as_json() for r in runs],
        "left": plan.left,
        "up_to_date": [(p.label, s) for p, s in plan.done[-1:]],
    }
    if status is Status.ERROR:
        failed = [
            f"{r.period.label}: {'; '.join(r.record.issues[:2])}" for r in runs if r.record and _errored(r)
        ]
        message = f"{pipeline.title.lower()} run ended in error: {' | '.join(failed)}"
        return Failed(message=message, data=result)
    count = sum(1 for r in runs if r.action == "produced")
    return Completed(message=f"{pipeline.title.lower()}: {count} period(s) produced", data=result)


def _errored(run: PeriodRun) -> bool:
    return run.record is not None and run.record.status is Status.ERROR


async def produce(
    ctx: RunContext, period: Period, stores: tuple[str, ...], run_id: str, *, force: bool, began: datetime
) -> PeriodRun:
    settings, engine, pipeline = ctx.settings, ctx.engine, ctx.pipeline
    async with claim_period(engine, pipeline, period) as claim:
        if not claim.held:
            return PeriodRun(period, "skipped", "another run is producing it")
        status = await produced_since(engine, pipeline, period, force=force, began=began)
        if status is not None:
            return PeriodRun(period, "skipped", f"already produced ({status}) by another run")

        logger = EventLogger(run_id, pipeline.code, file_path=settings.json_log_file)
        run = period_record(pipeline, run_id, settings.crm_run_env.value, period, stores)
        run.set_phase("db", claim_phase(claim))
        logger.event("orchestrator", "info", f"period {period.label} start", date=period.end)
        # An async task with return_state=True returns a coroutine; Prefect's stubs say a State.
        state = await render_period(  # type: ignore[misc]
            engine, settings, pipeline, period, stores, run_id, logger, return_state=True
        )
        reports = await state.aresult(raise_on_failure=False)
        if isinstance(reports, ReportsResult):
            run.set_phase("report", PeriodReportPhase(period, reports))
        else:
            # The render step failed as a whole: the period is an error, its summary still written.
            why = describe_exception(reports) if isinstance(reports, BaseException) else str(state.message)
            run.set_phase("report", PeriodReportPhase(period, failure=why))
            logger.event("report", "error", f"period reports failed: {why}", date=period.end)

        await save_summary(engine, run, logger)
        run.set_phase("report_email", await send_notifications(engine, settings, run, logger))
        # Stored again so the summary shows the real email outcome.
        await save_summary(engine, run, logger)
        await publish_artifacts(run)
    phase = run.phases.get("report")
    pdfs = [str(o.path) for o in phase.pdfs] if isinstance(phase, PeriodReportPhase) else []
    return PeriodRun(period, "produced", record=run, pdfs=pdfs)
