"""Prefect tasks of the daily flow that are not download or ingest: dashboard figures and store reports.
Each wraps one crm_core call; retries only where a retry can help."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.json_logger import EventLogger
from crm_core.portal.download import DownloadResult
from crm_core.portal.persist import store_dashboard_figures
from crm_core.reports.daily import render_store_reports
from crm_core.reports.documents import ReportsResult
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
    """Upsert the scraped figures of every store; returns (stored stores, {store: problem})."""
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
) -> ReportsResult:
    """Daily PDF and `documents` row per report store; one store's failure never stops the others."""
    return await render_store_reports(engine, settings, stores, report_date, run_id, logger)
