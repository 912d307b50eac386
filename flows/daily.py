"""The daily flow: portal → files → database → PDFs → summary → emails.

Orchestration only: every decision lives in crm_core, every step is a task from `tasks/`. Each phase's
outcome goes into the run record, whose status is the worst of them: a failing store or bucket makes the
run `warning`, a failed portal login `error`. The summary is still written and sent, and an `error` run
then ends Failed so the Prefect UI shows it.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from crm_core.db.stores import parse_store_codes
from crm_core.exports import enabled_exports
from crm_core.ingest import BucketOutcome, failed_bucket
from crm_core.periods import daily_report_date
from crm_core.pipelines import DAILY
from crm_core.runs.daily import check_prerequisites, daily_record
from crm_core.runs.phases import BUCKET_PHASES, BucketPhase, DownloadPhase, ReportPhase
from crm_core.runs.summary import render
from crm_core.status import Status
from tasks.alerts import alert_hook
from tasks.common import run_context
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
    report_date: date | None = None,
    stores: list[str] | str | None = None,
    dry_run: bool = False,
) -> State[Any]:
    """One daily run; `report_date` defaults to T-1 in the business time zone."""
    run_id = flow_run.id or uuid.uuid4().hex
    with events_to_prefect():
        async with run_context(DAILY, run_id) as ctx:
            settings, engine, logger = ctx.settings, ctx.engine, ctx.logger
            day = report_date or daily_report_date(zone=settings.zone)
            scope = await check_prerequisites(engine, settings, parse_store_codes(stores))
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
                run.set_phase("report_email", await send_notifications(engine, settings, run, logger))
                # Stored again so the summary shows the real email outcome.
                await save_summary(engine, run, logger)
            await publish_artifacts(run)

    result = {
        "run_id": run_id,
        "report_date": day.isoformat(),
        "status": run.status.value,
        "dry_run": dry_run,
        "summary_text": render(run),
        "metrics": run.metrics_json(),
    }
    if run.status is Status.ERROR:
        return Failed(message=f"daily run {day} ended in error: {'; '.join(run.issues[:3])}", data=result)
    return Completed(message=f"daily run {day}: {run.status.value}", data=result)
