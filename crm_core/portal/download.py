"""The download phase: one browser, one context, every store's dashboard figures and exports.

Interface for the daily flow::

    result = await download_all(settings, stores, report_date, logger)

- `stores`: store codes (upper-case); processed by `PORTAL_CONCURRENCY` pages of one context.
- `result.login_failed` / `result.login_reason`: the login failed and the phase was aborted (artifacts in
  `result.artifacts`: a screenshot and the HTML of the failing page, password never captured).
- `result.stores[code]`: a `StoreResult` with `status` ok / partial / failed, `reason`, the scraped
  `DashboardFigures` (or None) and one `ExportResult` per export (status ok / skipped, path, rows, reason).
- `result.files[bucket][store] = (path, rows)`: the kept files, named by the export registry.
- `result.status` / `result.detail`: the phase's verdict (ok / warning / error) and a one-line summary.
- Raises `ConfigError` when portal settings are missing and `PortalUnavailable` (transient) when the portal
  cannot be reached at all. Every problem is also an event (phase "download") naming store and export.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from crm_core.exports import ExportSpec, enabled_exports
from crm_core.fsutil import private_dir
from crm_core.json_logger import EventLogger, describe_exception
from crm_core.portal.config import PHASE, PortalConfig
from crm_core.portal.dashboard_parser import DashboardFigures, parse_dashboard
from crm_core.portal.fetch import FetchFailed, Reply, Target, fetch, via_page, via_stream
from crm_core.portal.files import CheckedCsv, InvalidExport, check_csv_stream
from crm_core.portal.session import (
    MAX_DOM_DEPTH,
    LoginFailed,
    PortalSession,
    load_storage_state,
    open_browser,
    page_html,
)
from crm_core.settings import Settings
from crm_core.status import Status

ExportStatus = Literal["ok", "skipped"]
StoreStatus = Literal["ok", "partial", "failed"]

_NOT_OK: tuple[StoreStatus, ...] = ("partial", "failed")
_UNSAFE_NAME = re.compile(r"(\.\.|/|\\)")


@dataclass
class ExportResult:
    store_code: str
    bucket: str
    status: ExportStatus
    path: Path | None = None
    rows: int = 0
    reason: str | None = None


@dataclass
class StoreResult:
    store_code: str
    status: StoreStatus = "failed"
    reason: str | None = None
    figures: DashboardFigures | None = None
    exports: dict[str, ExportResult] = field(default_factory=dict)


@dataclass
class DownloadResult:
    report_date: date
    stores: dict[str, StoreResult] = field(default_factory=dict)
    login_failed: bool = False
    login_reason: str | None = None
    logged_in: bool = False  # True when this run had to submit the login form (no reusable session)
    artifacts: list[Path] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def files(self) -> dict[str, dict[str, tuple[Path, int]]]:
        """bucket → store → (path, rows) of every kept export."""
        out: dict[str, dict[str, tuple[Path, int]]] = {}
        for store in self.stores.values():
            for export in store.exports.values():
                if export.status == "ok" and export.path is not None:
                    out.setdefault(export.bucket, {})[store.store_code] = (export.path, export.rows)
        return out

    @property
    def figures(self) -> dict[str, DashboardFigures]:
        return {code: s.figures for code, s in self.stores.items() if s.figures is not None}

    def _count(self, status: StoreStatus) -> int:
        return sum(1 for s in self.stores.values() if s.status == status)

    @property
    def skipped_exports(self) -> int:
        return sum(1 for s in self.stores.values() for e in s.exports.values() if e.status != "ok")

    def figure_warnings(self, code: str) -> list[str]:
        """What was odd about a store's dashboard figures (a value not read, another date than asked)."""
        figures = self.stores[code].figures
        if figures is None:
            return []
        lines = list(figures.warnings)
        if figures.dashboard_date is not None and figures.dashboard_date != self.report_date:
            lines.append(
                f"dashboard date {figures.dashboard_date} differs from report date {self.report_date}"
            )
        return lines

    @property
    def status(self) -> Status:
        """error when the portal login failed (no fresh data at all); warning when some store did not
        download everything or its dashboard figures came with warnings (the others went through)."""
        if self.login_failed:
            return Status.ERROR
        if any(store.status != "ok" for store in self.stores.values()):
            return Status.WARNING
        if any(self.figure_warnings(code) for code in self.figures):
            return Status.WARNING
        return Status.OK

    @property
    def detail(self) -> str:
        """One line for a run record, e.g. "3/3 stores" or "1/3 stores (1 partial, 1 failed), 2 exports
        skipped"."""
        if self.login_failed:
            return f"portal login failed: {self.login_reason}"
        line = f"{self._count('ok')}/{len(self.stores)} stores"
        problems = [f"{n} {s}" for s in _NOT_OK if (n := self._count(s))]
        if problems:
            line += f" ({', '.join(problems)})"
        if skipped := self.skipped_exports:
            line += f", {skipped} export{'s' if skipped > 1 else ''} skipped"
        return line

    def counts(self) -> dict[str, Any]:
        """A compact, JSON-able summary for run summaries and Prefect artifacts."""
        return {
            "stores_ok": self._count("ok"),
            "stores_partial": self._count("partial"),
            "stores_failed": self._count("failed"),
            "rows": {b: {sc: rows for sc, (_p, rows) in per.items()} for b, per in self.files.items()},
            "login_failed": self.login_failed,
        }


# --- per store -------------------------------------------------------------------------------------------


class StoreWorker:
    """One page of the context working through stores; each store is isolated from the others."""

    def __init__(
        self, session: PortalSession, page: Page, report_date: date, specs: list[ExportSpec]
    ) -> None:
        self.session = session
        self.page = page
        self.report_date = report_date
        self.specs = specs
        self.config = session.config
        self.logger = session.logger

    async def run_store(self, store_code: str) -> StoreResult:
        result = StoreResult(store_code)
        started = time.perf_counter()
        self.page = await self.session.usable(self.page)  # an earlier store's page may have crashed
        result.figures = await self.scrape(store_code)
        for spec in self.specs:
            result.exports[spec.bucket] = await self.fetch_export(store_code, spec)
        problems = [f"{b}: {e.reason}" for b, e in result.exports.items() if e.status != "ok"]
        if result.figures is None:
            problems.insert(0, "dashboard not scraped")
        ok_exports = sum(1 for e in result.exports.values() if e.status == "ok")
        result.status = "ok" if not problems else ("partial" if ok_exports or result.figures else "failed")
        result.reason = "; ".join(problems) or None
        self.logger.event(
            PHASE,
            "ok" if result.status == "ok" else "warn",
            f"store download {'completed' if result.status == 'ok' else result.status}",
            store_code=store_code,
            counts={b: e.rows for b, e in result.exports.items() if e.status == "ok"},
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        return result

    async def scrape(self, store_code: str) -> DashboardFigures | None:
        """Dashboard figures; any failure is a warning and the exports go on."""
        target = Target(store_code, "dashboard", {"export": "dashboard"}, retry_level="info")

        async def parse(_reply: Reply) -> DashboardFigures:
            html = await page_html(self.page)
            if html is None:
                raise FetchFailed(f"page nested more than {MAX_DOM_DEPTH} elements deep; not read")
            return parse_dashboard(html, store_code)

        send = via_page(self.session, self.page, self.config.dashboard_url(store_code))
        try:
            figures = await fetch(self.session, self.page, target, send, parse)
        except FetchFailed as exc:
            reason = (
                "the page crashed while rendering it" if self.session.is_crashed(self.page) else exc.reason
            )
            self._warn(store_code, f"dashboard not scraped: {reason}", exc=exc.exc)
            return None
        for warning in figures.warnings:
            self._warn(store_code, warning)
        if figures.dashboard_date is not None and figures.dashboard_date != self.report_date:
            self._warn(
                store_code,
                f"dashboard date {figures.dashboard_date} differs from report date {self.report_date}",
            )
        self.logger.event(
            PHASE,
            "ok",
            "dashboard figures scraped",
            store_code=store_code,
            date=figures.dashboard_date,
            counts={"metrics": figures.found_metrics, "warnings": len(figures.warnings)},
            export="dashboard",
        )
        return figures

    def _warn(self, store_code: str, message: str, **extras: Any) -> None:
        self.logger.event(PHASE, "warn", message, store_code=store_code, export="dashboard", **extras)

    async def fetch_export(self, store_code: str, spec: ExportSpec) -> ExportResult:
        """One export through the context's request API; a failing export makes the run a warning, never
        an error: the other stores and exports go on."""
        target = Target(store_code, "CSV", {"bucket": spec.bucket})

        path = self.config.downloads / spec.file_name(store_code)

        async def validate(reply: Reply) -> tuple[Reply, CheckedCsv]:
            if reply.status != 200 or reply.file is None:  # only a 200 carries the CSV
                raise FetchFailed(f"HTTP {reply.status}")
            if not reply.body.strip():
                raise FetchFailed("empty body")
            try:
                # In a thread: a 5,000-row export takes tens of milliseconds to check, during which the
                # event loop would hold up every other worker's transfer.
                return reply, await asyncio.to_thread(_check_file, reply.file.tmp, spec)
            except InvalidExport as exc:
                raise FetchFailed(f"invalid file: {exc.reason}", refetch=exc.transient) from None

        send = via_stream(self.session, self.config.tms_origin + spec.url(store_code), path)
        try:
            reply, checked = await fetch(self.session, self.page, target, send, validate)
            assert reply.file is not None  # validate refuses a reply without one
            reply.file.commit()
        except FetchFailed as exc:
            self.logger.event(
                PHASE,
                "warn",
                f"export skipped: {exc.reason}",
                store_code=store_code,
                bucket=spec.bucket,
                exc=exc.exc,
            )
            return ExportResult(store_code, spec.bucket, "skipped", reason=exc.reason)
        self._note_quirks(store_code, spec, reply, checked)
        self.logger.event(
            PHASE,
            "ok",
            "export downloaded",
            store_code=store_code,
            bucket=spec.bucket,
            counts={"rows": checked.rows},
            file=path.name,
        )
        return ExportResult(store_code, spec.bucket, "ok", path=path, rows=checked.rows)

    def _note_quirks(self, store_code: str, spec: ExportSpec, reply: Reply, checked: CheckedCsv) -> None:
        """What was odd about a kept export: worth an event, not worth refusing the file."""
        suggested = _suggested_name(reply.headers.get("content-disposition", ""))
        if suggested and _UNSAFE_NAME.search(suggested):
            self.logger.event(
                PHASE,
                "warn",
                "server-suggested file name ignored (path characters)",
                store_code=store_code,
                bucket=spec.bucket,
                suggested=suggested,
            )
        if checked.non_utf8:
            self.logger.event(
                PHASE,
                "warn",
                "export has bytes that are not UTF-8 (kept; read leniently)",
                store_code=store_code,
                bucket=spec.bucket,
            )
        if checked.unknown_columns:
            self.logger.event(
                PHASE,
                "info",
                "export has columns the registry does not know (ignored)",
                store_code=store_code,
                bucket=spec.bucket,
                columns=checked.unknown_columns,
            )


def _check_file(path: Path, spec: ExportSpec) -> CheckedCsv:
    with path.open("rb") as fh:
        return check_csv_stream(fh, spec)


def _suggested_name(disposition: str) -> str | None:
    match = re.search(r'filename="?([^";]+)"?', disposition)
    return match.group(1) if match else None


# --- entry point -----------------------------------------------------------------------------------------


async def download_all(
    settings: Settings,
    stores: list[str],
    report_date: date,
    logger: EventLogger,
    *,
    config: PortalConfig | None = None,
    specs: list[ExportSpec] | None = None,
) -> DownloadResult:
    """Figures and exports of every store (see the module docstring)."""
    config = config or PortalConfig.from_settings(settings)
    specs = specs if specs is not None else enabled_exports()
    stores = sorted({s.strip().upper() for s in stores if s.strip()})
    result = DownloadResult(report_date)
    started = time.perf_counter()
    private_dir(config.downloads)
    logger.event(
        PHASE,
        "info",
        "download started",
        date=report_date,
        counts={"stores": len(stores), "exports": len(specs), "concurrency": config.concurrency},
    )
    async with open_browser(config) as browser:
        context = await browser.new_context(
            storage_state=load_storage_state(config.storage_state, logger),  # type: ignore[arg-type]
            accept_downloads=False,
        )
        context.set_default_timeout(config.timeouts.nav)
        session = PortalSession(context, config, logger)
        try:
            try:
                tms = await session.start()
            except LoginFailed as exc:
                result.login_failed, result.login_reason = True, str(exc)
                result.stores = {
                    c: StoreResult(c, "failed", "not attempted: portal login failed") for c in stores
                }
                return result
            finally:
                result.artifacts = session.artifacts
                result.logged_in = session.logged_in
            queue: asyncio.Queue[str] = asyncio.Queue()
            for code in stores:
                queue.put_nowait(code)
            pages = [tms] + [
                await context.new_page() for _ in range(min(config.concurrency, len(stores)) - 1)
            ]
            workers = [StoreWorker(session, page, report_date, specs) for page in pages]
            outcomes = await asyncio.gather(
                *(_work(w, queue, result) for w in workers), return_exceptions=True
            )
            login_errors = [o for o in outcomes if isinstance(o, LoginFailed)]
            if login_errors:
                result.login_failed, result.login_reason = True, str(login_errors[0])
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, LoginFailed):
                    raise outcome
            for code in stores:
                if code not in result.stores:
                    result.stores[code] = StoreResult(code, "failed", "not attempted: portal login failed")
            result.artifacts = session.artifacts
            result.logged_in = session.logged_in
        finally:
            await session.close()
            with contextlib.suppress(PlaywrightError):
                await context.close()
    result.duration_s = time.perf_counter() - started
    logger.event(
        PHASE,
        "error" if result.login_failed else "ok",
        "download finished",
        date=report_date,
        counts=result.counts(),
        duration_ms=result.duration_s * 1000,
    )
    return result


async def _work(worker: StoreWorker, queue: asyncio.Queue[str], result: DownloadResult) -> None:
    while True:
        try:
            code = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            result.stores[code] = await worker.run_store(code)
        except LoginFailed:
            # Nobody can continue without a login: drain the queue so the other workers stop too.
            while not queue.empty():
                queue.get_nowait()
            raise
        except Exception as exc:  # one store's surprise never stops the others
            worker.logger.event(PHASE, "warn", "store download failed", store_code=code, exc=exc)
            result.stores[code] = StoreResult(code, "failed", describe_exception(exc))
            worker.page = await worker.session.usable(worker.page)
