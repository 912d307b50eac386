"""The daily flow: portal → files → database → PDFs → summary → emails.

Orchestration only: every decision lives in crm_core, every step is a task from `tasks/`. Each phase's
outcome goes into the run record, whose status is the worst of them: a failing store or bucket makes the
run `warning`, a failed portal login `error`. The summary is still written and sent, and an `error` run
then ends Failed so the Prefect UI shows it.

Only the current report date reads the portal (it serves only its current state); an earlier date is a
report backfill from the stored data (crm_core/runs/daily.py). A range gives one run record per date,
oldest first: the first takes the Prefect flow-run id as its run id, later ones a new uuid.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from crm_core.db.stores import StoreScope, parse_store_codes
from crm_core.exports import enabled_exports
from crm_core.ingest import BucketOutcome, failed_bucket
from crm_core.json_logger import EventLogger
from crm_core.pipelines import DAILY
from crm_core.runs.daily import (
    BACKFILL_NOTE,
    check_prerequisites,
    daily_record,
    one_portal_run_at_a_time,
    plan_daily_dates,
)
from crm_core.runs.phases import BUCKET_PHASES, BucketPhase, DownloadPhase, ReportPhase
from crm_core.runs.record import RunRecord
from crm_core.runs.summary import render
from crm_core.status import Status, worst
from flows.parameters import ReportDate
from tasks.alerts import alert_hook
from tasks.common import RunContext, run_context
from tasks.daily import persist_figures, render_reports
from tasks.download import download_exports
from tasks.ingest import process_bucket_task
from tasks.prefect_logging import events_to_prefect
from tasks.runs import publish_artifacts, save_summary, send_notifications


@flow(
    name=DAILY.flow_name,
    description="Portal exports and figures for every ETL store → ingest → audit → PDFs → summary → emails.",
    on_failure=[alert_hook(DAILY)],
    on_crashed=[alert_hook(DAILY)],
    persist_result=False,
    validate_parameters=True,
)
async def daily_flow(
    report_date: ReportDate = None,
    stores: list[str] | str | None = None,
    dry_run: bool = False,
    date_from: ReportDate = None,
    date_to: ReportDate = None,
    send_emails: bool | None = None,
) -> State[Any]:
    """One daily run per date: `report_date`, or `date_from`..`date_to`, default T-1 in the business time
    zone. A date before T-1 is a report backfill from stored data (no portal access) whose emails go out
    only with `send_emails`; a date after T-1 is refused."""
    flow_run_id = flow_run.id or uuid.uuid4().hex
    runs: list[RunRecord] = []
    with events_to_prefect():
        async with run_context(DAILY, flow_run_id) as ctx:
            plan = plan_daily_dates(ctx.settings.current_report_date(), report_date, date_from, date_to)
            scope = await check_prerequisites(
                ctx.engine, ctx.settings, parse_store_codes(stores), portal=plan.reads_portal
            )
            for day in plan.dates:
                run_id = str(flow_run_id) if not runs else uuid.uuid4().hex
                if plan.is_backfill(day):
                    emails = bool(send_emails)
                    runs.append(await backfill_run(ctx, run_id, day, scope, dry_run=dry_run, emails=emails))
                else:
                    emails = send_emails is not False
                    runs.append(await portal_run(ctx, run_id, day, scope, dry_run=dry_run, emails=emails))

    entries = [run_result(run) for run in runs]
    status = worst(run.status for run in runs)
    result = {**entries[-1], "status": status.value, "runs": entries}
    label = f"{plan.dates[0]}..{plan.dates[-1]}" if len(plan.dates) > 1 else str(plan.dates[0])
    if status is Status.ERROR:
        issues = [issue for run in runs if run.status is Status.ERROR for issue in run.issues]
        return Failed(message=f"daily run {label} ended in error: {'; '.join(issues[:3])}", data=result)
    return Completed(message=f"daily run {label}: {status.value}", data=result)


def run_result(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "report_date": run.report_date.isoformat() if run.report_date else None,
        "status": run.status.value,
        "dry_run": run.dry_run,
        "summary_text": render(run),
        "metrics": run.metrics_json(),
    }


def day_logger(ctx: RunContext, run_id: str) -> EventLogger:
    return (
        ctx.logger
        if run_id == ctx.run_id
        else EventLogger(run_id, DAILY.code, file_path=ctx.settings.json_log_file)
    )


async def backfill_run(
    ctx: RunContext, run_id: str, day: date, scope: StoreScope, *, dry_run: bool, emails: bool
) -> RunRecord:
    """An earlier date: its PDFs from the stored data, its summary, and its emails when asked for."""
    settings, engine, logger = ctx.settings, ctx.engine, day_logger(ctx, run_id)
    run = daily_record(run_id, settings.crm_run_env.value, day, scope, dry_run=dry_run, backfill=True)
    logger.event("orchestrator", "info", f"{BACKFILL_NOTE}" + (" (dry run)" if dry_run else ""), date=day)
    if dry_run:
        run.finish()
        logger.event("run_summary", "info", "dry run: nothing rendered, stored or sent")
    else:
        if scope.report:
            reports = await render_reports(engine, settings, scope.report, day, run_id, logger)
            run.set_phase("report", ReportPhase(reports))
        await save_summary(engine, run, logger)
        if emails:
            run.set_phase("report_email", await send_notifications(engine, settings, run, logger))
            await save_summary(engine, run, logger)
    await publish_artifacts(run)
    return run


async def portal_run(
    ctx: RunContext, run_id: str, day: date, scope: StoreScope, *, dry_run: bool, emails: bool
) -> RunRecord:
    """The current report date: the portal's exports and figures, ingested, then PDFs, summary, emails."""
    async with one_portal_run_at_a_time(ctx.engine, day_logger(ctx, run_id)):
        return await _portal_run(ctx, run_id, day, scope, dry_run=dry_run, emails=emails)


async def _portal_run(
    ctx: RunContext, run_id: str, day: date, scope: StoreScope, *, dry_run: bool, emails: bool
) -> RunRecord:
    settings, engine, logger = ctx.settings, ctx.engine, day_logger(ctx, run_id)
    run = daily_record(run_id, settings.crm_run_env.value, day, scope, dry_run=dry_run)
    logger.event(
        "orchestrator",
        "info",
        "pipeline start" + (" (dry run: nothing written, deleted or sent)" if dry_run else ""),
        date=day,
        counts={"etl_stores": len(scope.etl), "report_stores": len(scope.report)},
    )

    download = DownloadPhase(await download_exports(settings, scope.etl, day, logger), scope.etl)
    if not dry_run:
        download.figures_stored, download.figure_problems = await persist_figures(
            engine, download.result, run_id, logger
        )
    run.set_phase("download", download)

    files = download.result.files
    buckets: dict[str, BucketOutcome] = {}
    for spec in enabled_exports():
        bucket_files = {store: path for store, (path, _rows) in files.get(spec.bucket, {}).items()}
        # An async task with return_state=True returns a coroutine; Prefect's stubs say a State.
        state = await process_bucket_task(  # type: ignore[misc]
            None if dry_run else engine,
            spec,
            bucket_files,
            work_dir=settings.downloads_path,
            report_date=day,
            run_id=run_id,
            batch_size=settings.ingest_batch_size,
            logger=logger,
            dry_run=dry_run,
            return_state=True,
        )
        outcome = await state.aresult(raise_on_failure=False)
        if not isinstance(outcome, BucketOutcome):
            # Transient retries ran out: this bucket is an error, the run goes on with the others.
            outcome = failed_bucket(
                spec,
                bucket_files,
                outcome if isinstance(outcome, BaseException) else state.message,
                work_dir=settings.downloads_path,
                report_date=day,
                logger=logger,
                dry_run=dry_run,
            )
        buckets[spec.bucket] = outcome
    for phase in BUCKET_PHASES:
        if (bucket_phase := BucketPhase(phase, buckets)).reached:
            run.set_phase(phase, bucket_phase)
    logger.event("orchestrator", "info", "pipeline complete", date=day)

    if not dry_run and download.result.login_failed:
        # Without fresh data a PDF would present stale figures as today's.
        run.set_phase("report", ReportPhase(skipped="portal login failed"))
        logger.event("report", "warn", "store reports skipped: portal login failed", date=day)
    elif not dry_run and scope.report:
        reports = await render_reports(engine, settings, scope.report, day, run_id, logger)
        run.set_phase("report", ReportPhase(reports))

    if dry_run:
        run.finish()
        logger.event("run_summary", "info", "dry run: run summary not stored, no emails sent")
    else:
        await save_summary(engine, run, logger)
        if emails:
            run.set_phase("report_email", await send_notifications(engine, settings, run, logger))
            # Stored again so the summary shows the real email outcome.
            await save_summary(engine, run, logger)
    await publish_artifacts(run)
    return run
