"""The weekly and monthly entry point: every report store's PDF for one period, then the combined `ALL`
PDF, each recorded in `documents`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.json_logger import EventLogger
from crm_core.periods import Period
from crm_core.pipelines import Pipeline
from crm_core.reports.documents import ReportKind, ReportsResult, render_reports
from crm_core.reports.period.data import (
    CombinedPeriodReport,
    PeriodReport,
    StorePeriodReport,
    load_store_period,
)
from crm_core.reports.period.layout import period_report_path, render_period_pdf
from crm_core.settings import Settings

ALL_STORES = "ALL"
NO_DATA_MESSAGE = "no dashboard data in the period"


def _facts(report: PeriodReport) -> Mapping[str, Any]:
    """Coverage and the health score for the store's event (no personal data)."""
    figures = report.figures
    facts: dict[str, Any] = {
        "period": report.period.label,
        "days_with_data": len(figures.days_with_data),
        "health_score": figures.health.score,
    }
    if isinstance(report, CombinedPeriodReport):
        facts["stores_without_data"] = report.stores_without_data
    return facts


def period_report_kind(
    settings: Settings,
    pipeline: Pipeline,
    store_codes: Sequence[str],
    run_id: str,
    *,
    generated_at: datetime | None = None,
) -> ReportKind[Period, PeriodReport]:
    """Loads a store's report, or for `ALL` the combination of every store in `store_codes` (each store
    read once per run: the combined report reuses what the store reports loaded)."""
    moment = generated_at or datetime.now(UTC)
    loaded: dict[str, StorePeriodReport] = {}
    codes = [code.strip().upper() for code in store_codes]

    async def store(session: AsyncSession, code: str, period: Period) -> StorePeriodReport:
        if code not in loaded:
            loaded[code] = await load_store_period(
                session, code, period, run_id, generated_at=moment, timezone=settings.crm_timezone
            )
        return loaded[code]

    async def load(session: AsyncSession, code: str, period: Period) -> PeriodReport:
        if code != ALL_STORES:
            return await store(session, code, period)
        stores = [await store(session, c, period) for c in dict.fromkeys(codes)]
        return CombinedPeriodReport(
            period=period,
            run_id=run_id,
            generated_at=moment,
            stores=tuple(stores),
            timezone=settings.crm_timezone,
        )

    return ReportKind(
        doc_type=pipeline.document_type,
        pipeline_code=pipeline.code,
        load=load,
        render=render_period_pdf,
        path_for=lambda code, period: period_report_path(settings.reports_path, period, code),
        no_data_message=NO_DATA_MESSAGE,
        facts=_facts,
        has_data=lambda report: report.has_data,
    )


async def render_period_reports(
    db: async_sessionmaker[AsyncSession] | AsyncEngine,
    settings: Settings,
    pipeline: Pipeline,
    period: Period,
    store_codes: Sequence[str],
    run_id: str,
    logger: EventLogger,
) -> ReportsResult:
    """One outcome per store, in the given order, then the `ALL` outcome. A store without data gets a PDF
    with a notice, recorded like the others, and the outcome `no_data` (the run is a warning); one store's
    failure never stops the others."""
    if period.kind != pipeline.period:
        raise ValueError(f"pipeline {pipeline.code} reports on a {pipeline.period}, not a {period.kind}")
    return await render_reports(
        db,
        period_report_kind(settings, pipeline, store_codes, run_id),
        [*store_codes, ALL_STORES],
        period,
        doc_date=period.end,
        run_id=run_id,
        logger=logger,
        workers=settings.report_workers,
    )


__all__ = ["ALL_STORES", "NO_DATA_MESSAGE", "period_report_kind", "render_period_reports"]
