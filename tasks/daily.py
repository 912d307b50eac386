"""Prefect tasks of the daily flow that are not download or ingest: figures, reports, summary, emails,
artifacts. Each wraps one crm_core call; retries only where a retry can help."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.daily_run import DailyRun
from crm_core.db.engine import session_factory
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import NotifyOutcome, send_notifications_for_run
from crm_core.portal.download import DownloadResult
from crm_core.portal.persist import store_dashboard_figures
from crm_core.reports.daily import ReportOutcome, render_store_reports
from crm_core.runs import RunSummary, save_run_summary
from crm_core.settings import Settings
from tasks.common import TRANSIENT_RETRIES


@task(
    name="store-dashboard-figures",
    cache_policy=NONE,
    persist_result=False,
    **TRANSIENT_RETRIES,  # a database hiccup, not bad data
)
async def persist_figures(
    engine: AsyncEngine, download: DownloadResult, run_id: str, logger: EventLogger
) -> tuple[list[str], dict[str, str]]:
    """Upsert the scraped figures of every store (A4); returns (stored stores, {store: problem})."""
    figures = list(download.figures.values())
    problems = await store_dashboard_figures(engine, figures, run_id)
    stored = sorted(f.store_code for f in figures if f.store_code not in problems)
    for code, problem in problems.items():
        logger.event("download", "warn", f"dashboard figures not stored: {problem}", store_code=code)
    logger.event("download", "ok", "dashboard figures stored", counts={"stores": len(stored)})
    return stored, problems


@task(name="render-store-reports", cache_policy=NONE, persist_result=False)
async def render_reports(
    engine: AsyncEngine,
    settings: Settings,
    stores: list[str],
    report_date: date,
    run_id: str,
    logger: EventLogger,
) -> list[ReportOutcome]:
    """Daily PDF and `documents` row per report store; one store's failure never stops the others."""
    return await render_store_reports(engine, settings, stores, report_date, run_id, logger)


@task(
    name="save-run-summary",
    cache_policy=NONE,
    persist_result=False,
    **TRANSIENT_RETRIES,  # a database hiccup, not bad data
)
async def save_summary(engine: AsyncEngine, run: DailyRun, logger: EventLogger) -> RunSummary:
    """Write (or rewrite) the run's `pipeline_run_summaries` row with its current phases and metrics."""
    summary = run.summary(logger)
    async with session_factory(engine)() as session, session.begin():
        await save_run_summary(session, summary, summary.daily_text())
    logger.event("run_summary", "ok", "run summary saved", counts={"status": summary.status})
    return summary


@task(name="send-notifications", cache_policy=NONE, persist_result=False)
async def send_notifications(
    engine: AsyncEngine, settings: Settings, run_id: str, logger: EventLogger
) -> NotifyOutcome:
    """Every planned email of the run not delivered before; transient SMTP errors retried inside."""
    return await send_notifications_for_run(engine, settings, "dashboard_daily", run_id, logger)


@task(name="publish-run-artifacts", cache_policy=NONE, persist_result=False)
async def publish_artifacts(run: DailyRun, summary: RunSummary) -> None:
    """The markdown summary and the per-store, per-bucket counts table in the Prefect UI."""
    key = f"daily-{run.report_date:%Y-%m-%d}"
    await acreate_markdown_artifact(
        markdown=run.markdown(summary), key=f"{key}-summary", description="Daily run summary"
    )
    await acreate_table_artifact(
        table=run.counts_table(), key=f"{key}-counts", description="Rows downloaded per store and bucket"
    )
