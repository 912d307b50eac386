"""Rendering a report for every report store and recording each PDF in `documents`.

`render_reports` is the loop every report (daily, weekly, monthly) runs: per store, load the context, render
the PDF (in worker processes, see `pool`), write the `documents` row. One store's failure never stops the
others; every step is an event of the report phase, so the run summary counts them. A report adds a loader,
a renderer and a path function, never another loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.db.engine import session_factory
from crm_core.db.models import Document
from crm_core.errors import is_transient
from crm_core.fsutil import remove_abandoned_parts
from crm_core.json_logger import EventLogger, describe_exception
from crm_core.periods import Period, PeriodKind
from crm_core.reports.pool import RenderJob, RenderPool
from crm_core.status import Status
from crm_core.store_codes import InvalidStoreCode, checked_file_code

PHASE = "report"
DOC_SUBTYPE = "pipeline_report"
MIME_PDF = "application/pdf"

OutcomeStatus = Literal["ok", "no_data", "error"]

P = TypeVar("P")  # the period a report covers: a date for the daily report
C = TypeVar("C")  # what a loader returns and a renderer draws

Loader = Callable[[AsyncSession, str, P], Awaitable[C | None]]
Renderer = Callable[[C, Path], object]


# --- paths -------------------------------------------------------------------------------------------


def safe_store_code(store_code: str) -> str:
    """The store code upper-cased, refused unless it is a valid code (or ALL): a code is a file name."""
    return checked_file_code(store_code.strip().upper())


def report_pdf_path(reports_dir: Path, kind: str, period_end: date, store_code: str, label: str) -> Path:
    """`<reports_dir>/<YYYY of period end>/<kind>/<CODE>_<label>.pdf`, e.g. `2025/daily/A817_2025-11-17.pdf`
    or `2025/weekly/ALL_week_2025-11-10_to_2025-11-16.pdf`."""
    return reports_dir / f"{period_end:%Y}" / kind / f"{safe_store_code(store_code)}_{label}.pdf"


_PERIOD_FOLDERS: dict[PeriodKind, tuple[str, str]] = {
    "day": ("daily", ""),
    "week": ("weekly", "week_"),
    "month": ("monthly", "month_"),
}


def period_pdf_path(reports_dir: Path, period: Period, store_code: str) -> Path:
    """A period report's path: `2026/weekly/A817_week_2026-10-05_to_2026-10-11.pdf`,
    `2026/monthly/ALL_month_2026-10.pdf` (a day's: `2026/daily/A817_2026-10-11.pdf`)."""
    folder, prefix = _PERIOD_FOLDERS[period.kind]
    return report_pdf_path(reports_dir, folder, period.end, store_code, f"{prefix}{period.label}")


# --- documents rows ----------------------------------------------------------------------------------


async def write_document(
    session: AsyncSession,
    *,
    doc_type: str,
    doc_date: date,
    pipeline_code: str,
    run_id: str,
    store_code: str,
    path: Path,
    size: int | None,
    error: str | None = None,
) -> int:
    """Add the `documents` row of one rendered (or failed) PDF and return its id; a failed render keeps the
    file name for the record but no path, since no file was written."""
    document = Document(
        doc_type=doc_type,
        doc_subtype=DOC_SUBTYPE,
        doc_date=doc_date,
        reference_name_1="pipeline",
        reference_id_1=pipeline_code,
        reference_name_2="run_id",
        reference_id_2=run_id,
        reference_name_3="store_code",
        reference_id_3=store_code,
        file_name=path.name,
        mime_type=MIME_PDF,
        file_size_bytes=size,
        storage_backend="fs",
        file_path=str(path) if error is None else None,
        status="ok" if error is None else "error",
        error_message=error,
        created_by="pipeline",
    )
    session.add(document)
    await session.flush()
    return int(document.id)


# --- outcomes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """What happened to one store's report; `document_id` is set whenever a `documents` row was written."""

    store_code: str
    status: OutcomeStatus
    # Keyword-only, so that no call can put a message where the path goes.
    _: KW_ONLY
    path: Path | None = None
    message: str = ""
    document_id: int | None = None
    file_size_bytes: int | None = None


@dataclass(frozen=True)
class ReportsResult:
    """Every store's outcome, in the order the stores were given."""

    outcomes: tuple[ReportOutcome, ...]

    def having(self, status: OutcomeStatus) -> list[ReportOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def status(self) -> Status:
        """A store whose PDF failed is an error (its owner gets no report); a store without data a
        warning; else ok."""
        if self.having("error"):
            return Status.ERROR
        if self.having("no_data"):
            return Status.WARNING
        return Status.OK

    @property
    def rendered(self) -> list[ReportOutcome]:
        """The PDFs written: every ok outcome, and a no-data outcome whose notice PDF was rendered."""
        return [
            o for o in self.outcomes if o.status == "ok" or (o.status == "no_data" and o.path is not None)
        ]

    @property
    def detail(self) -> str:
        """One line: "2 PDFs", then the stores that failed or had no data."""
        generated = len(self.rendered)
        parts = [f"{generated} PDF{'' if generated == 1 else 's'}"]
        labelled: tuple[tuple[OutcomeStatus, str], ...] = (("error", "failed"), ("no_data", "without data"))
        for status, words in labelled:
            codes = [o.store_code for o in self.having(status)]
            if codes:
                parts.append(f"{len(codes)} {words} ({', '.join(codes)})")
        return "; ".join(parts)


# --- the loop ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind(Generic[P, C]):
    """One kind of per-store PDF: how to load its context, draw it and name its file, and what to record.

    `facts` returns fields added to the store's rendered/failed event (e.g. `counts`, a health score);
    personal data must not go there. A loader returning None means no data and no PDF (the daily report);
    a report that draws a "no data" notice instead returns a context and says through `has_data` that it
    is one: its PDF is rendered and recorded, and its outcome is `no_data`.
    """

    doc_type: str
    pipeline_code: str
    load: Loader[P, C]
    render: Renderer[C]
    path_for: Callable[[str, P], Path]
    no_data_message: str = "no data available for the report period"
    facts: Callable[[C], Mapping[str, Any]] = field(default=lambda _context: {})
    has_data: Callable[[C], bool] = field(default=lambda _context: True)
    phase: str = PHASE


# Pauses before a store's database step is tried again after a connection failure (a restart, a
# failover): enough for a server that is back within seconds; Prefect's task retries cover longer outages.
TRANSIENT_PAUSES_S = (1.0, 5.0, 15.0)

T = TypeVar("T")


@dataclass
class _DatabaseRetry:
    """Retries a store's database step (load, `documents` row) after a lost connection. The pauses are
    shared by the whole call, so a database that stays down costs them once, not once per store."""

    kind_phase: str
    logger: EventLogger
    doc_date: date
    pauses: Iterator[float] = field(default_factory=lambda: iter(TRANSIENT_PAUSES_S))

    async def run(self, code: str, step: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                return await step()
            except Exception as exc:
                # A failed attempt recorded nothing (its transaction rolled back): run it again.
                if not is_transient(exc) or (pause := next(self.pauses, None)) is None:
                    raise
                self.logger.event(
                    self.kind_phase, "info", f"database unavailable; store report retried in {pause:g} s",
                    store_code=code, date=self.doc_date, exc=exc,
                )  # fmt: skip
                await asyncio.sleep(pause)


async def render_reports(
    db: async_sessionmaker[AsyncSession] | AsyncEngine,
    kind: ReportKind[P, C],
    store_codes: Sequence[str],
    period: P,
    *,
    doc_date: date,
    run_id: str,
    logger: EventLogger,
    workers: int = 1,
) -> ReportsResult:
    """One outcome per store, in the given order, and its events in that order too.

    This process loads each store's data and writes its `documents` row, one store after another; the PDFs
    are drawn by `workers` processes meanwhile (see `pool`; one worker draws in this process). A few stores
    are loaded ahead of the one being finished, enough to keep every worker busy without holding every
    store's data at once.
    """
    sessions = session_factory(db) if isinstance(db, AsyncEngine) else db
    codes = [raw.strip().upper() for raw in store_codes]
    ahead = 2 * workers if workers > 1 else 1
    outcomes: list[ReportOutcome] = []
    retry = _DatabaseRetry(kind.phase, logger, doc_date)
    await asyncio.to_thread(_remove_interrupted_renders, kind, codes, period, logger)
    async with RenderPool(max(1, min(workers, len(codes)))) as pool:
        started: deque[tuple[str, Finish]] = deque()
        for code in codes:
            while len(started) >= ahead:
                outcomes.append(await _finish(kind, logger, doc_date, *started.popleft()))
            try:
                finish = await _start(sessions, pool, retry, kind, code, period, doc_date, run_id, logger)
            except Exception as exc:  # a store must never stop the others, whatever went wrong
                finish = partial(_raise, exc)
            started.append((code, finish))
        while started:
            outcomes.append(await _finish(kind, logger, doc_date, *started.popleft()))
    return ReportsResult(tuple(outcomes))


def _remove_interrupted_renders(
    kind: ReportKind[P, C], codes: Sequence[str], period: P, logger: EventLogger
) -> None:
    """Half-drawn PDFs a killed run left in the folders this run writes to, removed before drawing again."""
    folders: set[Path] = set()
    for code in codes:
        with contextlib.suppress(InvalidStoreCode):  # a bad code becomes that store's error when it is drawn
            folders.add(kind.path_for(code, period).parent)
    for folder in sorted(folders):
        removed = remove_abandoned_parts(folder)
        if removed:
            logger.event(
                kind.phase,
                "info",
                "removed PDFs an interrupted run left half-written",
                counts={"files": len(removed)},
            )


# What is left of a store's report once its data is loaded and its render started: wait for the render,
# record it, log it. Steps are finished in the stores' order, so events keep that order.
Finish = Callable[[], Awaitable[ReportOutcome]]


async def _finish(
    kind: ReportKind[P, C], logger: EventLogger, doc_date: date, code: str, finish: Finish
) -> ReportOutcome:
    try:
        return await finish()
    except Exception as exc:  # a store must never stop the others, whatever went wrong
        logger.event(kind.phase, "error", "store report failed", store_code=code, date=doc_date, exc=exc)
        return ReportOutcome(code, "error", message=f"store report failed: {describe_exception(exc)}")


async def _start(
    sessions: async_sessionmaker[AsyncSession],
    pool: RenderPool,
    retry: _DatabaseRetry,
    kind: ReportKind[P, C],
    code: str,
    period: P,
    doc_date: date,
    run_id: str,
    logger: EventLogger,
) -> Finish:
    """Load the store's data and hand its PDF to the pool; returns the step that finishes the store."""
    started = time.perf_counter()

    async def load() -> C | None:
        async with sessions() as session:
            return await kind.load(session, code, period)

    try:
        context = await retry.run(code, load)
    except Exception as exc:
        return partial(_not_loaded, kind, logger, code, doc_date, exc)
    if context is None:
        return partial(_no_data, kind, logger, code, doc_date)
    path = kind.path_for(code, period)
    facts = kind.facts(context)
    job = await pool.submit(kind.render, context, path)
    return partial(
        _rendered,
        sessions,
        pool,
        retry,
        job,
        kind,
        code,
        context,
        path,
        doc_date,
        run_id,
        logger,
        facts,
        started,
    )


async def _raise(exc: Exception) -> ReportOutcome:
    raise exc


async def _not_loaded(
    kind: ReportKind[P, C], logger: EventLogger, code: str, doc_date: date, exc: Exception
) -> ReportOutcome:
    # Nothing was rendered, so there is no document to record: only the error.
    logger.event(
        kind.phase, "error", "report data could not be loaded", store_code=code, date=doc_date, exc=exc
    )
    return ReportOutcome(code, "error", message=f"report data could not be loaded: {describe_exception(exc)}")


async def _no_data(kind: ReportKind[P, C], logger: EventLogger, code: str, doc_date: date) -> ReportOutcome:
    logger.event(kind.phase, "warning", kind.no_data_message, store_code=code, date=doc_date)
    return ReportOutcome(code, "no_data", message=kind.no_data_message)


async def _rendered(
    sessions: async_sessionmaker[AsyncSession],
    pool: RenderPool,
    retry: _DatabaseRetry,
    job: RenderJob,
    kind: ReportKind[P, C],
    code: str,
    context: C,
    path: Path,
    doc_date: date,
    run_id: str,
    logger: EventLogger,
    facts: Mapping[str, Any],
    started: float,
) -> ReportOutcome:
    """The `documents` row of a rendered (or failed) PDF, its event and its outcome."""
    error: str | None = None
    size: int | None = None
    try:
        size = await pool.wait(job)
    except Exception as exc:
        error = describe_exception(exc)

    async def record() -> int:
        async with sessions() as session, session.begin():
            return await write_document(
                session,
                doc_type=kind.doc_type,
                doc_date=doc_date,
                pipeline_code=kind.pipeline_code,
                run_id=run_id,
                store_code=code,
                path=path,
                size=size,
                error=error,
            )

    document_id = await retry.run(code, record)

    duration_ms = (time.perf_counter() - started) * 1000
    if error is not None:
        logger.event(
            kind.phase,
            "error",
            "store report render failed",
            store_code=code,
            date=doc_date,
            duration_ms=duration_ms,
            error=error,
            document_id=document_id,
            **facts,
        )
        return ReportOutcome(code, "error", message=f"render failed: {error}", document_id=document_id)
    # A store without data still has its notice PDF: recorded like any other, but the run is a warning.
    has_data = kind.has_data(context)
    logger.event(
        kind.phase,
        "ok" if has_data else "warning",
        "store report rendered" if has_data else f"{kind.no_data_message}; notice PDF rendered",
        store_code=code,
        date=doc_date,
        duration_ms=duration_ms,
        file=str(path),
        size_bytes=size,
        document_id=document_id,
        **facts,
    )
    return ReportOutcome(
        code,
        "ok" if has_data else "no_data",
        path=path,
        message="rendered" if has_data else kind.no_data_message,
        document_id=document_id,
        file_size_bytes=size,
    )
