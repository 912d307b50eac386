"""The daily pipeline's part of a run record: which dates a run covers, its prerequisites and its metrics.

The portal serves only its current state, so only the current report date (T-1) reads it. A run for an
earlier date is a report backfill: that day's PDFs, summary and (on request) emails from the data stored
for it, with no portal access. A later date has nothing to report and is refused."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.locks import take_turns
from crm_core.db.stores import StoreScope, store_scope
from crm_core.errors import ConfigError
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import NotifyOutcome
from crm_core.pipelines import DAILY
from crm_core.portal.config import PortalConfig
from crm_core.portal.session import require_chromium
from crm_core.runs.phases import BucketPhase, DownloadPhase, ReportPhase
from crm_core.runs.prerequisites import run_database
from crm_core.runs.record import RunRecord
from crm_core.settings import Settings

BACKFILL_NOTE = "report backfill from stored data: no portal access"


@dataclass(frozen=True)
class DailyPlan:
    """The dates of a daily run, oldest first; `current` is the report date the portal's state is of."""

    dates: tuple[date, ...]
    current: date

    @property
    def reads_portal(self) -> bool:
        return self.current in self.dates

    def is_backfill(self, day: date) -> bool:
        return day != self.current


def plan_daily_dates(
    current: date,
    report_date: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> DailyPlan:
    """The dates a daily run processes: `report_date`, or every day from `date_from` to `date_to`
    (either alone is that one day), else the current report date; `ConfigError` for a date after it."""
    if report_date is not None and (date_from is not None or date_to is not None):
        raise ConfigError("give either a report date or a date range (from/to), not both")
    if date_from is not None or date_to is not None:
        first, last = date_from or date_to or current, date_to or date_from or current
        if first > last:
            raise ConfigError(f"the range starts ({first}) after it ends ({last})")
    else:
        first = last = report_date or current
    if last > current:
        raise ConfigError(
            f"{last} is after the latest report date {current} (T-1): the portal has no data for it yet"
        )
    return DailyPlan(tuple(first + timedelta(days=i) for i in range((last - first).days + 1)), current)


async def check_prerequisites(
    engine: AsyncEngine, settings: Settings, subset: list[str] | None, *, portal: bool = True
) -> StoreScope:
    """The store scope and, when the run reads the portal, a browser and the portal configuration;
    `ConfigError` stops the run before any work."""
    if portal:
        await require_chromium(settings)
    async with session_factory(engine)() as session:
        scope = await store_scope(session, subset)
    if not portal:
        return scope
    PortalConfig.from_settings(settings)  # URLs present
    has_login = bool(settings.portal_username and settings.portal_password)
    if not has_login and not settings.storage_state_path.exists():
        raise ConfigError(
            "PORTAL_USERNAME and PORTAL_PASSWORD must be set (or a saved session: crm portal login --headed)"
        )
    return scope


async def preflight(settings: Settings, subset: list[str] | None, *, portal: bool = True) -> StoreScope:
    """The prerequisites checked before a run is started from the command line, so that a missing one
    exits 2 before Prefect or the browser start (the flow checks them again)."""
    if portal:
        await require_chromium(settings)  # the machine first: no database needed to tell
    async with run_database(settings) as engine:
        return await check_prerequisites(engine, settings, subset, portal=portal)


def one_portal_run_at_a_time(engine: AsyncEngine, logger: EventLogger) -> AbstractAsyncContextManager[None]:
    """Runs that read the portal share its download folder (one run's cleanup would delete the files
    another is merging) and its saved session. A second one — `crm run daily` while the deployment
    runs — waits for the first to finish, then runs as a rerun of the date (rows updated, nothing sent
    twice)."""

    def waiting() -> None:
        logger.event("orchestrator", "info", "another daily run is reading the portal: waiting for it to end")

    return take_turns(engine, f"crm-run:{DAILY.code}:portal", on_wait=waiting)


def daily_record(
    run_id: str, env: str, report_date: date, scope: StoreScope, *, dry_run: bool, backfill: bool = False
) -> RunRecord:
    def metrics(record: RunRecord) -> DailyMetrics:
        return daily_metrics(record, backfill=backfill)

    return RunRecord(
        DAILY, run_id, env, report_date=report_date, scope=scope, dry_run=dry_run, metrics=metrics
    )


@dataclass
class StoreMetrics:
    configured: list[str]
    report_stores: list[str]
    processed: list[str]
    failed: dict[str, str]
    report_success: list[str]
    report_failures: dict[str, str]


@dataclass
class DownloadMetrics:
    stores_ok: int = 0
    stores_partial: int = 0
    stores_failed: int = 0
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    login_failed: bool = False
    login_reason: str | None = None
    duration_s: float | None = None
    figures_stored: list[str] = field(default_factory=list)
    figure_problems: dict[str, str] = field(default_factory=dict)


@dataclass
class PdfRecord:
    store_code: str
    file_path: str


@dataclass
class PdfMetrics:
    generated: int
    failed: int
    no_data: int
    skipped: str | None
    records: list[PdfRecord]


@dataclass
class DailyMetrics:
    """`metrics_json` of a daily run (with `dry_run` and `issues` added by the record)."""

    stores: StoreMetrics
    download: DownloadMetrics
    buckets: dict[str, dict[str, Any]]
    pdf: PdfMetrics
    email: dict[str, Any]
    backfill: bool = False


def daily_metrics(record: RunRecord, *, backfill: bool = False) -> DailyMetrics:
    download = record.phases.get("download")
    download = download if isinstance(download, DownloadPhase) else None
    merge = record.phases.get("merge")
    buckets = merge.buckets if isinstance(merge, BucketPhase) else {}
    report = record.phases.get("report")
    report = report if isinstance(report, ReportPhase) else ReportPhase()
    email = record.phases.get("report_email")
    scope = record.scope or StoreScope([], [])
    stores = download.result.stores if download else {}
    return DailyMetrics(
        stores=StoreMetrics(
            configured=list(scope.etl),
            report_stores=list(scope.report),
            processed=download.processed if download else [],
            failed={code: s.reason or s.status for code, s in sorted(stores.items()) if s.status != "ok"},
            report_success=sorted(r.store_code for r in report.generated),
            report_failures={r.store_code: r.message for r in report.reports if r.status != "ok"},
        ),
        download=_download_metrics(download),
        buckets={bucket: outcome.as_metrics() for bucket, outcome in buckets.items()},
        pdf=PdfMetrics(
            generated=len(report.generated),
            failed=sum(1 for r in report.reports if r.status == "error"),
            no_data=sum(1 for r in report.reports if r.status == "no_data"),
            skipped="dry run" if record.dry_run else report.skipped,
            records=[PdfRecord(r.store_code, str(r.path)) for r in report.generated],
        ),
        email=email.as_metrics()
        if isinstance(email, NotifyOutcome)
        else {"status": "skipped (dry run)" if record.dry_run else _unsent(backfill)},
        backfill=backfill,
    )


def _unsent(backfill: bool) -> str:
    return "not requested (report backfill: --email sends them)" if backfill else "not sent"


def _download_metrics(phase: DownloadPhase | None) -> DownloadMetrics:
    if phase is None:
        return DownloadMetrics()
    result = phase.result
    counts = result.counts()
    return DownloadMetrics(
        stores_ok=counts["stores_ok"],
        stores_partial=counts["stores_partial"],
        stores_failed=counts["stores_failed"],
        rows=counts["rows"],
        login_failed=result.login_failed,
        login_reason=result.login_reason,
        duration_s=round(result.duration_s, 2),
        figures_stored=list(phase.figures_stored),
        figure_problems=dict(phase.figure_problems),
    )
