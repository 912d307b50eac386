"""Weekly and monthly runs: which periods a run produces (catch-up), the claim that keeps two runs from
producing the same period, and the period metrics of the run record.

A period is produced when it has no `ok`/`warning` run summary (the latest summary of the pipeline whose
`report_date` is the period end): a missing or `error` one makes it due again. Each produced period is a
run of its own (run id, summary, documents, emails).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.db.engine import session_factory
from crm_core.db.models import PipelineRunSummary, store_dashboard_summary
from crm_core.db.stores import StoreScope, store_scope
from crm_core.errors import ConfigError
from crm_core.fsutil import FILE_MODE, private_dir
from crm_core.notify.engine import NotifyOutcome
from crm_core.periods import Period, complete_periods_between, last_complete_period, parse_period
from crm_core.pipelines import Pipeline
from crm_core.reports.documents import ReportsResult
from crm_core.runs.daily import PdfMetrics, PdfRecord
from crm_core.runs.prerequisites import run_database
from crm_core.runs.record import RunRecord
from crm_core.settings import Settings
from crm_core.status import PhaseResult, Status

PRODUCED = ("ok", "warning")  # a period with a summary in one of these is done
DEFAULT_MAX_PERIODS = 12
COMBINED_STORE = "ALL"
NO_REPORT_STORES = (
    "no stores are flagged for reporting: weekly and monthly reports need at least one "
    "(crm stores set CODE --report)"
)


# --- planning ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodPlan:
    """What a run will produce: `periods` oldest first; `done` the periods of the range already produced
    (with their status); `left` how many more are due beyond `max_periods` (the next run takes them)."""

    pipeline: Pipeline
    periods: tuple[Period, ...]
    report_stores: tuple[str, ...]
    done: tuple[tuple[Period, str], ...] = ()
    left: int = 0


def period_option(pipeline: Pipeline, text: str | None) -> Period | None:
    """The `period` parameter: a date inside the week, or `YYYY-MM` (or a date) for a month."""
    if text is None or not str(text).strip():
        return None
    try:
        return parse_period(str(text), pipeline.period)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def redo_command(period: Period) -> str:
    """The command that redoes a produced period, for the "already produced" hint (also after `crm demo`,
    which itself has no --force)."""
    if period.kind == "week":
        return f"crm run weekly --period {period.start.isoformat()} --force"
    return f"crm run monthly --period {period.label} --force"


async def report_stores(session: AsyncSession) -> list[str]:
    """The active report stores; none is a configuration error (there would be nothing to report)."""
    scope = await store_scope(session)
    if not scope.report:
        raise ConfigError(NO_REPORT_STORES)
    return scope.report


async def first_dashboard_day(session: AsyncSession) -> date | None:
    first = await session.execute(select(func.min(store_dashboard_summary.c.dashboard_date)))
    value = first.scalar_one_or_none()
    return value if isinstance(value, date) else None


async def latest_summaries(
    session: AsyncSession, pipeline: Pipeline, ends: Sequence[date]
) -> dict[date, tuple[str, datetime]]:
    """For each period end, the status and start of the pipeline's latest run summary of that period."""
    if not ends:
        return {}
    rows = await session.execute(
        select(
            PipelineRunSummary.report_date,
            PipelineRunSummary.overall_status,
            PipelineRunSummary.started_at,
        )
        .where(
            PipelineRunSummary.pipeline_name == pipeline.code,
            PipelineRunSummary.report_date.in_(list(ends)),
        )
        .order_by(PipelineRunSummary.started_at, PipelineRunSummary.id)
    )
    latest: dict[date, tuple[str, datetime]] = {}
    for end, status, started in rows.all():
        latest[end] = (status, started)  # ordered by start: the last one wins
    return latest


async def plan_periods(
    session: AsyncSession,
    settings: Settings,
    pipeline: Pipeline,
    *,
    period: Period | None = None,
    force: bool = False,
    max_periods: int = DEFAULT_MAX_PERIODS,
    now: datetime | None = None,
) -> PeriodPlan:
    """The periods this run produces.

    Without `period`: every complete period from the one containing `CRM_REPORTS_START` (else the first
    dashboard data, else the latest complete period alone) up to the latest complete one, that has no
    `ok`/`warning` summary, oldest first, at most `max_periods`. With `period`: that period, unless it is
    already produced. `force` redoes a produced period: the one given, else the latest complete one."""
    if max_periods < 1:
        raise ConfigError(f"max_periods must be at least 1 (got {max_periods})")
    stores = tuple(await report_stores(session))
    last = last_complete_period(pipeline.period, now, settings.zone)
    if period is None and force:
        period = last
    if period is not None:
        if period.kind != pipeline.period:
            raise ConfigError(f"{pipeline.code} reports {pipeline.period}s, not {period.label}")
        if period.end > last.end:
            raise ConfigError(
                f"{period.label} is not complete yet (the latest complete {period.kind} is {last.label})"
            )
        status = (await latest_summaries(session, pipeline, [period.end])).get(period.end)
        if status is not None and status[0] in PRODUCED and not force:
            return PeriodPlan(pipeline, (), stores, done=((period, status[0]),))
        return PeriodPlan(pipeline, (period,), stores)

    first = settings.crm_reports_start or await first_dashboard_day(session) or last.start
    candidates = list(complete_periods_between(first, last)) if first <= last.end else []
    latest = await latest_summaries(session, pipeline, [p.end for p in candidates])
    due = [p for p in candidates if latest.get(p.end, ("", None))[0] not in PRODUCED]
    done = tuple((p, latest[p.end][0]) for p in candidates if p not in due)
    return PeriodPlan(
        pipeline, tuple(due[:max_periods]), stores, done=done, left=max(len(due) - max_periods, 0)
    )


async def preflight(settings: Settings, pipeline: Pipeline, period: str | None) -> Period | None:
    """What a command-line run checks before Prefect starts (the flow checks them again): the period
    option, the database schema at the code's revision and at least one report store; `ConfigError`
    otherwise."""
    target = period_option(pipeline, period)
    async with run_database(settings) as engine, session_factory(engine)() as session:
        await report_stores(session)
    return target


# --- the claim -----------------------------------------------------------------------------------------


@dataclass
class Claim:
    """Whether this run holds the period; `how` names the mechanism for the run summary."""

    held: bool
    how: str


# One asyncio lock per period for a database without a file (in-memory SQLite), per event loop.
_memory_claims: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def claim_period(engine: AsyncEngine, pipeline: Pipeline, period: Period) -> AsyncIterator[Claim]:
    """Hold the period for this run while it is produced, without waiting: a period another run holds is
    left to that run (`held` False). Deployment concurrency limits do not cover the command line, so the
    claim is taken where every run meets: the database.

    PostgreSQL: a session advisory lock keyed by (pipeline, period end) on a connection kept for the
    claim; it goes when the connection goes, so a crashed run never leaves a period claimed. SQLite: an
    exclusive `flock` on a file beside the database file (across processes, released by the kernel when
    the process dies); an in-memory database takes an in-process lock."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            # Two int4 keys: one per pipeline (hashtext), the period end as a day number.
            keys = (func.hashtext(f"crm-period:{pipeline.code}"), period.end.toordinal())
            held = bool((await conn.execute(select(func.pg_try_advisory_lock(*keys)))).scalar_one())
            await conn.commit()  # a session lock outlives the transaction; no idle transaction kept open
            try:
                yield Claim(held, "advisory lock")
            finally:
                if held:
                    await conn.execute(select(func.pg_advisory_unlock(*keys)))
                    await conn.commit()
        return
    database = engine.url.database
    name = f"{pipeline.code}-{period.end.isoformat()}"
    if not database or database == ":memory:":
        locks = _memory_claims.setdefault(asyncio.get_running_loop(), {})
        lock = locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            yield Claim(False, "in-process lock")
            return
        async with lock:
            yield Claim(True, "in-process lock")
        return
    folder = Path(database).with_name(Path(database).name + ".claims")
    private_dir(folder)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield Claim(False, "file lock")
            return
        try:
            yield Claim(True, "file lock")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


async def produced_since(
    engine: AsyncEngine, pipeline: Pipeline, period: Period, *, force: bool, began: datetime
) -> str | None:
    """Checked once the claim is held: the status of a summary that makes this run's work redundant — the
    period is already `ok`/`warning` (without `force`), or another run produced it after this run began
    (with `force`: both runs asked for it, once is enough). None when the period is still due."""
    async with session_factory(engine)() as session:
        latest = (await latest_summaries(session, pipeline, [period.end])).get(period.end)
    if latest is None or latest[0] not in PRODUCED:
        return None
    status, started = latest
    if not force:
        return status
    if started.tzinfo is None:  # SQLite hands back the stored UTC time without its zone
        started = started.replace(tzinfo=UTC)
    return status if started >= began else None


# --- the run record ------------------------------------------------------------------------------------


def claim_phase(claim: Claim) -> PhaseResult:
    return PhaseResult(Status.OK, f"period claimed ({claim.how})")


@dataclass
class PeriodReportPhase:
    """The PDFs of one period: one per report store plus the combined `ALL` one. A store without data
    still gets a PDF saying so (a warning); a PDF that failed is an error; `failure` is a render step that
    failed as a whole."""

    period: Period
    result: ReportsResult = field(default_factory=lambda: ReportsResult(()))
    failure: str | None = None

    @property
    def pdfs(self) -> list[Any]:
        return [o for o in self.result.outcomes if o.status != "error" and o.path is not None]

    @property
    def status(self) -> Status:
        return Status.ERROR if self.failure else self.result.status

    @property
    def detail(self) -> str:
        return f"{len(self.pdfs)} PDFs"

    @property
    def issues(self) -> list[str]:
        lines = [f"period reports failed: {self.failure}"] if self.failure else []
        for outcome in self.result.outcomes:
            if outcome.status == "no_data" and outcome.store_code != COMBINED_STORE:
                lines.append(f"store {outcome.store_code}: no dashboard data for {self.period.label}")
            elif outcome.status == "error":
                lines.append(f"store {outcome.store_code}: {outcome.message or 'PDF failed'}")
        return lines


@dataclass
class PeriodInfo:
    start: str
    end: str
    label: str


@dataclass
class PeriodMetrics:
    """`metrics_json` of a weekly or monthly run (with `dry_run` and `issues` added by the record)."""

    period: PeriodInfo
    stores_expected: list[str]
    stores_with_data: list[str]
    stores_without_data: list[str]
    pdf: PdfMetrics
    email: dict[str, Any]


def period_of(record: RunRecord) -> Period:
    if record.period_start is None or record.report_date is None:
        raise ValueError(f"run {record.run_id} has no period")
    return Period(record.period_start, record.report_date, record.pipeline.period)


def period_record(
    pipeline: Pipeline, run_id: str, env: str, period: Period, stores: Sequence[str]
) -> RunRecord:
    """A period's run: `report_date` is the period end and `period_start` its first day."""
    return RunRecord(
        pipeline,
        run_id,
        env,
        report_date=period.end,
        period_start=period.start,
        scope=StoreScope([], list(stores)),
        metrics=period_metrics,
    )


def period_metrics(record: RunRecord) -> PeriodMetrics:
    period = period_of(record)
    report = record.phases.get("report")
    report = report if isinstance(report, PeriodReportPhase) else PeriodReportPhase(period)
    outcomes = [o for o in report.result.outcomes if o.store_code != COMBINED_STORE]
    email = record.phases.get("report_email")
    return PeriodMetrics(
        period=PeriodInfo(period.start.isoformat(), period.end.isoformat(), period.label),
        stores_expected=list(record.scope.report if record.scope else []),
        stores_with_data=sorted(o.store_code for o in outcomes if o.status == "ok"),
        stores_without_data=sorted(o.store_code for o in outcomes if o.status == "no_data"),
        pdf=PdfMetrics(
            generated=len(report.pdfs),
            failed=sum(1 for o in report.result.outcomes if o.status == "error"),
            no_data=len([o for o in outcomes if o.status == "no_data"]),
            skipped=report.failure,
            records=[PdfRecord(o.store_code, str(o.path)) for o in report.pdfs],
        ),
        email=email.as_metrics() if isinstance(email, NotifyOutcome) else {"status": "not sent"},
    )
