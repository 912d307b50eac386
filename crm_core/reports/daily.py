"""Daily store PDFs for a run: per store, load the context, render the PDF, record a `documents` row
(DOMAIN A6, B7.1). A failing store never stops the others; every step is an event of phase "report".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.db.engine import session_factory
from crm_core.db.models import Document
from crm_core.json_logger import EventLogger, describe_exception
from crm_core.reports.daily_data import load_daily_context
from crm_core.reports.daily_pdf import daily_pdf_path, render_daily_pdf
from crm_core.reports.kpis import evaluate_kpis, overall_health
from crm_core.settings import Settings

PHASE = "report"
PIPELINE_CODE = "dashboard_daily"
DOC_TYPE = "store_daily_pdf"
DOC_SUBTYPE = "pipeline_report"
NO_DATA_MESSAGE = "no data available for report date"

OutcomeStatus = Literal["ok", "error", "no_data"]


@dataclass(frozen=True)
class ReportOutcome:
    """What happened to one store's report; `document_id` is set whenever a `documents` row was written."""

    store_code: str
    status: OutcomeStatus
    message: str
    path: Path | None = None
    document_id: int | None = None
    file_size_bytes: int | None = None
    health_score: int | None = None


async def render_store_reports(
    db: async_sessionmaker[AsyncSession] | AsyncEngine,
    settings: Settings,
    store_codes: Sequence[str],
    report_date: date,
    run_id: str,
    logger: EventLogger,
    *,
    pipeline_code: str = PIPELINE_CODE,
) -> list[ReportOutcome]:
    """One outcome per store, in the given order. Stores are rendered one after another: PDF layout is
    CPU-bound (it runs in a worker thread so the event loop stays responsive) and reportlab's embedded-font
    state is not meant to be shared by concurrent documents."""
    sessions = session_factory(db) if isinstance(db, AsyncEngine) else db
    outcomes = []
    for code in store_codes:
        started = time.perf_counter()
        try:
            outcome = await _render_one(
                sessions, settings, code.strip().upper(), report_date, run_id, logger, pipeline_code, started
            )
        except Exception as exc:  # a store must never stop the others, whatever went wrong
            logger.event(PHASE, "error", "store report failed", store_code=code, date=report_date, exc=exc)
            outcome = ReportOutcome(code, "error", f"store report failed: {describe_exception(exc)}")
        outcomes.append(outcome)
    return outcomes


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _render_one(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    code: str,
    report_date: date,
    run_id: str,
    logger: EventLogger,
    pipeline_code: str,
    started: float,
) -> ReportOutcome:
    try:
        async with sessions() as session:
            context = await load_daily_context(
                session, code, report_date, run_id, timezone=settings.crm_timezone
            )
    except Exception as exc:
        # B7.1: a failure while building the context writes no document, only the error.
        logger.event(
            PHASE, "error", "report data could not be loaded", store_code=code, date=report_date, exc=exc
        )
        return ReportOutcome(code, "error", f"report data could not be loaded: {describe_exception(exc)}")
    if context is None:
        logger.event(PHASE, "warning", NO_DATA_MESSAGE, store_code=code, date=report_date)
        return ReportOutcome(code, "no_data", NO_DATA_MESSAGE)

    path = daily_pdf_path(settings.reports_path, code, report_date)
    health = overall_health(evaluate_kpis(context.kpi_values))
    error: str | None = None
    size: int | None = None
    try:
        await asyncio.to_thread(render_daily_pdf, context, path)
        size = path.stat().st_size
    except Exception as exc:
        error = describe_exception(exc)

    document = Document(
        doc_type=DOC_TYPE,
        doc_subtype=DOC_SUBTYPE,
        doc_date=report_date,
        reference_name_1="pipeline",
        reference_id_1=pipeline_code,
        reference_name_2="run_id",
        reference_id_2=run_id,
        reference_name_3="store_code",
        reference_id_3=code,
        file_name=path.name,
        mime_type="application/pdf",
        file_size_bytes=size,
        storage_backend="fs",
        file_path=str(path) if error is None else None,
        status="ok" if error is None else "error",
        error_message=error,
        created_by="pipeline",
    )
    async with sessions() as session, session.begin():
        session.add(document)
        await session.flush()
        document_id = document.id

    counts = {
        "undelivered_orders": len(context.undelivered_orders),
        "missed_leads": len(context.missed_leads),
    }
    if error is not None:
        logger.event(
            PHASE,
            "error",
            "store report render failed",
            store_code=code,
            date=report_date,
            counts=counts,
            duration_ms=_elapsed_ms(started),
            error=error,
            document_id=document_id,
        )
        return ReportOutcome(code, "error", f"render failed: {error}", document_id=document_id)
    logger.event(
        PHASE,
        "ok",
        "store report rendered",
        store_code=code,
        date=report_date,
        counts=counts,
        duration_ms=_elapsed_ms(started),
        file=str(path),
        size_bytes=size,
        health_score=health.score,
        document_id=document_id,
    )
    return ReportOutcome(
        code,
        "ok",
        "rendered",
        path=path,
        document_id=document_id,
        file_size_bytes=size,
        health_score=health.score,
    )
