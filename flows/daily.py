"""The daily flow: portal → files → database → PDFs → summary → emails.

Orchestration only: every decision lives in crm_core, every step is a task from `tasks/`. A failing store or
bucket makes the run `warning`; a failed portal login makes it `error`, but the summary is still written
and sent, and the flow run then ends Failed so the Prefect UI shows it.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from crm_core.daily_run import PIPELINE_CODE, DailyRun, check_prerequisites
from crm_core.db.stores import parse_store_codes
from crm_core.exports import enabled_exports
from crm_core.periods import daily_report_date
from tasks.alerts import alert_hook
from tasks.common import run_context
from tasks.daily import (
    persist_figures,
    publish_artifacts,
    render_reports,
    save_summary,
    send_notifications,
)
from tasks.download import download_exports
from tasks.ingest import process_bucket_task
from tasks.prefect_logging import events_to_prefect


@flow(
    name="dashboard-daily",
    description="Portal exports and figures for every ETL store → ingest → audit → PDFs → summary → emails.",
    on_failure=[alert_hook(PIPELINE_CODE)],
    on_crashed=[alert_hook(PIPELINE_CODE)],
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
        async with run_context(PIPELINE_CODE, run_id) as ctx:
            settings, engine, logger = ctx.settings, ctx.engine, ctx.logger
            day = report_date or daily_report_date(zone=settings.zone)
            scope = await check_prerequisites(engine, settings, parse_store_codes(stores))
            run = DailyRun(run_id, settings.crm_run_env.value, day, scope, dry_run=dry_run)
            logger.event(
                "orchestrator",
                "info",
                "pipeline start" + (" (dry run: nothing written, deleted or sent)" if dry_run else ""),
                date=day,
                counts={"etl_stores": len(scope.etl), "report_stores": len(scope.report)},
            )

            run.download = await download_exports(settings, scope.etl, day, logger)
            if not dry_run:
                run.figures_stored, run.figure_problems = await persist_figures(
                    engine, run.download, run_id, logger
                )

            files = run.download.files
            for spec in enabled_exports():
                run.buckets[spec.bucket] = await process_bucket_task(
                    None if dry_run else engine,
                    spec,
                    {store: path for store, (path, _rows) in files.get(spec.bucket, {}).items()},
                    work_dir=settings.downloads_path,
                    report_date=day,
                    run_id=run_id,
                    batch_size=settings.ingest_batch_size,
                    logger=logger,
                    dry_run=dry_run,
                )
            logger.event("orchestrator", "info", "pipeline complete", date=day)

            if dry_run:
                run.reports_skipped = "dry run"
            elif run.download.login_failed:
                # Without fresh data a PDF would present stale figures as today's.
                run.reports_skipped = "portal login failed"
                logger.event("report", "warn", "store reports skipped: portal login failed", date=day)
            elif scope.report:
                run.reports = await render_reports(engine, settings, scope.report, day, run_id, logger)

            if dry_run:
                summary = run.summary(logger)
                logger.event("run_summary", "info", "dry run: run summary not stored, no emails sent")
            else:
                await save_summary(engine, run, logger)
                notified = await send_notifications(engine, settings, run_id, logger)
                run.email = notified.as_metrics()
                # Stored again so the summary shows the real email outcome (A8).
                summary = await save_summary(engine, run, logger)
            await publish_artifacts(run, summary)

    result = {
        "run_id": run_id,
        "report_date": day.isoformat(),
        "status": summary.status,
        "dry_run": dry_run,
        "summary_text": summary.daily_text(),
        "metrics": summary.metrics,
    }
    if summary.status == "error":
        return Failed(message=f"daily run {day} ended in error: {'; '.join(summary.issues[:3])}", data=result)
    return Completed(message=f"daily run {day}: {summary.status}", data=result)
