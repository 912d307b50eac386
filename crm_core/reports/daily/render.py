"""The daily entry point: every report store's PDF for one report date, each recorded in `documents`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.json_logger import EventLogger
from crm_core.pipelines import DAILY
from crm_core.reports.daily.data import DailyReportContext, load_daily_context
from crm_core.reports.daily.layout import daily_pdf_path, render_daily_pdf
from crm_core.reports.documents import ReportKind, ReportsResult, render_reports
from crm_core.reports.kpis import evaluate_kpis, overall_health
from crm_core.settings import Settings

NO_DATA_MESSAGE = "no data available for report date"


def _facts(context: DailyReportContext) -> Mapping[str, Any]:
    """Counts and the health score for the store's event (no personal data)."""
    return {
        "counts": {
            "undelivered_orders": len(context.undelivered_orders),
            "missed_leads": len(context.missed_leads),
        },
        "health_score": overall_health(evaluate_kpis(context.kpi_values)).score,
    }


def daily_report_kind(
    settings: Settings, run_id: str, pipeline_code: str = DAILY.code
) -> ReportKind[date, DailyReportContext]:
    async def load(session: AsyncSession, code: str, report_date: date) -> DailyReportContext | None:
        return await load_daily_context(session, code, report_date, run_id, timezone=settings.crm_timezone)

    return ReportKind(
        doc_type=DAILY.document_type,
        pipeline_code=pipeline_code,
        load=load,
        render=render_daily_pdf,
        path_for=partial(daily_pdf_path, settings.reports_path),
        no_data_message=NO_DATA_MESSAGE,
        facts=_facts,
    )


async def render_store_reports(
    db: async_sessionmaker[AsyncSession] | AsyncEngine,
    settings: Settings,
    store_codes: Sequence[str],
    report_date: date,
    run_id: str,
    logger: EventLogger,
    *,
    pipeline_code: str = DAILY.code,
) -> ReportsResult:
    """One outcome per store, in the given order; one store's failure never stops the others."""
    return await render_reports(
        db,
        daily_report_kind(settings, run_id, pipeline_code),
        store_codes,
        report_date,
        doc_date=report_date,
        run_id=run_id,
        logger=logger,
        workers=settings.report_workers,
    )
