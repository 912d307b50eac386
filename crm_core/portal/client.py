"""The Playwright downloader (DOMAIN A4, B2): one browser, one context, every store's figures and exports.

Interface for the daily flow::

    result = await download_all(settings, stores, report_date, logger)

- `stores`: store codes (upper-case); processed by `PORTAL_CONCURRENCY` pages of one context.
- `result.login_failed` / `result.login_reason`: the login failed and the phase was aborted (artifacts in
  `result.artifacts`: a screenshot and the HTML of the failing page, password never captured).
- `result.stores[code]`: a `StoreResult` with `status` ok / partial / failed, `reason`, the scraped
  `DashboardFigures` (or None) and one `ExportResult` per export (status ok / skipped, path, rows, reason).
- `result.files[bucket][store] = (path, rows)`: the kept files, named by the export registry.
- Raises `ConfigError` when portal settings are missing and `PortalUnavailable` (transient) when the portal
  cannot be reached at all. Every problem is also an event (phase "download") naming store and export.

`interactive_login(settings)` is the headed OTP bootstrap (`crm portal login --headed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from crm_core.exports import ExportSpec, enabled_exports
from crm_core.json_logger import EventLogger, describe_exception, redact_text
from crm_core.portal.dashboard_parser import DashboardFigures, parse_dashboard
from crm_core.portal.detect import is_login_page, looks_like_login, reports_login_error, same_origin
from crm_core.portal.files import InvalidExport, check_csv, write_atomic
from crm_core.settings import ConfigError, Settings

PHASE = "download"
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
TRACKER_TITLE = "Daily Operations Tracker"
DOWNLOAD_CONTROLS = (
    "a[title='Download'], a[href*='download'], a[href*='export'], a[download], "
    "a:has-text('Download'), button:has-text('Download'), button[title='Download']"
)
# The clickable card: the nearest ancestor that is a link or has the class "card" (B2.1).
_CARD_XPATH = (
    "xpath=ancestor-or-self::*[self::a or contains(concat(' ', normalize-space(@class), ' '), ' card ')][1]"
)
_UNSAFE_NAME = re.compile(r"(\.\.|/|\\)")

ExportStatus = Literal["ok", "skipped"]
StoreStatus = Literal["ok", "partial", "failed"]


class LoginFailed(Exception):
    """The portal login failed; the download phase is aborted (B12.15). Never retried."""

    transient = False


class PortalUnavailable(Exception):
    """The portal could not be reached at all; worth retrying later."""

    transient = True


@dataclass(frozen=True)
class Timeouts:
    """B2.5 waits in milliseconds; navigation uses `PORTAL_NAV_TIMEOUT_MS`."""

    nav: int = 90_000
    username_field: int = 15_000
    submit_navigation: int = 60_000
    form_detach: int = 30_000
    tracker_heading: int = 30_000
    tracker_open: int = 60_000
    download_controls: int = 90_000


@dataclass(frozen=True)
class PortalConfig:
    """Everything the downloader needs, resolved from settings once."""

    portal_origin: str
    tms_origin: str
    username: str | None
    password: str | None
    login_path: str
    home_path: str
    dashboard_path: str
    headless: bool
    concurrency: int
    storage_state: Path
    downloads: Path
    artifacts: Path
    chromium: Path | None
    timeouts: Timeouts = field(default_factory=Timeouts)
    nav_attempts: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    # A server's Retry-After is honoured up to this (ours alone never waits more than max_backoff_s).
    max_retry_after_s: float = 300.0
    rate_limit_retries: int = 3

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PortalConfig:
        if not settings.portal_base_url or not settings.portal_tms_url:
            raise ConfigError(
                "PORTAL_BASE_URL and PORTAL_TMS_URL must be set (crm sandbox serve prints them)"
            )
        nav = settings.portal_nav_timeout_ms
        values: dict[str, Any] = {
            "portal_origin": settings.portal_base_url,
            "tms_origin": settings.portal_tms_url,
            "username": settings.portal_username,
            "password": settings.portal_password.get_secret_value() if settings.portal_password else None,
            "login_path": settings.portal_login_path,
            "home_path": settings.portal_home_path,
            "dashboard_path": settings.portal_dashboard_path,
            "headless": settings.portal_headless,
            "concurrency": settings.portal_concurrency,
            "storage_state": settings.storage_state_path,
            "downloads": settings.downloads_path,
            "artifacts": settings.artifacts_path,
            "chromium": settings.chromium_executable(),
            # No single wait may exceed the configured navigation budget.
            "timeouts": Timeouts(
                *(min(nav, t) for t in (nav, 15_000, 60_000, 30_000, 30_000, 60_000, 90_000))
            ),
        }
        values.update(overrides)
        return cls(**values)

    @property
    def login_url(self) -> str:
        return self.portal_origin + self.login_path

    @property
    def home_url(self) -> str:
        return self.portal_origin + self.home_path

    def is_home(self, url: str) -> bool:
        """On the portal home page itself (not merely under /home, like /home/otp)."""
        return same_origin(url, self.portal_origin) and urlsplit(url).path.rstrip(
            "/"
        ) == self.home_path.rstrip("/")

    def dashboard_url(self, store_code: str) -> str:
        return self.tms_origin + self.dashboard_path.format(store_code=store_code)


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

    def counts(self) -> dict[str, Any]:
        """A compact, JSON-able summary for run summaries and Prefect artifacts."""
        return {
            "stores_ok": sum(1 for s in self.stores.values() if s.status == "ok"),
            "stores_partial": sum(1 for s in self.stores.values() if s.status == "partial"),
            "stores_failed": sum(1 for s in self.stores.values() if s.status == "failed"),
            "rows": {b: {sc: rows for sc, (_p, rows) in per.items()} for b, per in self.files.items()},
            "login_failed": self.login_failed,
        }


# --- storage state ---------------------------------------------------------------------------------------


def load_storage_state(path: Path, logger: EventLogger) -> dict[str, Any] | None:
    """The saved session (B2.2 step 3); an unreadable file is a warning, never fatal."""
    if not path.exists():
        return None
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # A4: a secret; tighten a copy that arrived too readable.
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("cookies", []), list):
            raise ValueError("not a Playwright storage state")
        state["cookies"] = [_clean_cookie(c) for c in state.get("cookies", []) if isinstance(c, dict)]
        state.setdefault("origins", [])
        return state
    except (OSError, ValueError) as exc:
        logger.event(PHASE, "warn", "storage state unreadable; logging in afresh", exc=exc)
        return None


def _clean_cookie(cookie: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in cookie.items() if v is not None}
    if not isinstance(cleaned.get("expires", -1), int | float):
        cleaned.pop("expires", None)
    return cleaned


async def save_storage_state(context: BrowserContext, path: Path) -> None:
    state = await context.storage_state()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, json.dumps(state).encode(), mode=0o600)


# --- browser ---------------------------------------------------------------------------------------------


CHROMIUM_MISSING = (
    "Chromium not found ({why}): install Debian's chromium (apt-get install chromium) "
    "or set CHROMIUM_PATH to the browser executable"
)


async def require_chromium(settings: Settings) -> Path:
    """The browser `open_browser` will launch; a one-line `ConfigError` when there is none.

    Checked before a run starts so that a machine without a browser gets one instruction, not Playwright's
    traceback and its "playwright install" banner halfway through a run."""
    configured = settings.chromium_executable()
    if configured is not None:
        if _is_executable(configured):
            return configured
        why = f"CHROMIUM_PATH={configured} is not an executable file"
        raise ConfigError(CHROMIUM_MISSING.format(why=why))
    # Nothing on PATH: Playwright would launch its own download, if there is one.
    async with async_playwright() as pw:
        bundled = Path(pw.chromium.executable_path)
    if _is_executable(bundled):
        return bundled
    raise ConfigError(CHROMIUM_MISSING.format(why="none on PATH and no Playwright browser download"))


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@contextlib.asynccontextmanager
async def open_browser(config: PortalConfig, *, headless: bool | None = None) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(config.chromium) if config.chromium else None,
            headless=config.headless if headless is None else headless,
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield browser
        finally:
            await browser.close()


class PortalSession:
    """Login state of the one context: login once, tracker hop, refresh on demand (serialised)."""

    def __init__(self, context: BrowserContext, config: PortalConfig, logger: EventLogger) -> None:
        self.context = context
        self.config = config
        self.logger = logger
        self.generation = 0
        self.login_attempted = False
        self.logged_in = False
        self.artifacts: list[Path] = []
        self._lock = asyncio.Lock()

    async def page_shows_login(self, page: Page) -> bool:
        html = await page.content()
        return is_login_page(
            page.url,
            html,
            portal_origin=self.config.portal_origin,
            tms_origin=self.config.tms_origin,
            login_path=self.config.login_path,
        ) or (same_origin(page.url, self.config.tms_origin) and looks_like_login(html))

    async def goto(self, page: Page, url: str, *, wait_ms: int | None = None) -> int | None:
        """Navigate with up to `nav_attempts` tries on timeouts/network errors; 429 is never retried."""
        last: Exception | None = None
        for attempt in range(1, self.config.nav_attempts + 1):
            try:
                response = await page.goto(
                    url, wait_until="domcontentloaded", timeout=wait_ms or self.config.timeouts.nav
                )
                return response.status if response is not None else None
            except PlaywrightError as exc:
                last = exc
                if attempt < self.config.nav_attempts:
                    await asyncio.sleep(min(self.config.backoff_s * attempt, self.config.max_backoff_s))
        assert last is not None
        raise last

    async def start(self) -> Page:
        """Probe the saved session, log in if needed, hop to the TMS; returns the TMS page.

        A browser error or an overloaded portal here is an outage (`PortalUnavailable`, retried by the
        task), not a login failure: only `login` decides that the credentials are wrong."""
        page = await self.context.new_page()
        try:
            return await self._start(page)
        except PlaywrightError as exc:
            raise PortalUnavailable(f"portal start-up failed: {describe_exception(exc)}") from None

    async def _home(self, page: Page) -> None:
        status = await self.goto(page, self.config.home_url)
        if status is not None and (status >= 500 or status == 429):
            raise PortalUnavailable(f"portal home answered HTTP {status}")

    async def _start(self, page: Page) -> Page:
        await self._home(page)
        if await self.page_shows_login(page):
            await self.login(page)
        else:
            self.logger.event(PHASE, "info", "saved portal session reused (no login)")
        # B2.2 step 6: home must not show the login form any more.
        await self._home(page)
        if await self.page_shows_login(page):
            if self.login_attempted:
                await self.fail_login(page, "home_login_after_auth", "home still shows the login page")
            await self.login(page)
        tms = await self.tracker_hop(page)
        await save_storage_state(self.context, self.config.storage_state)
        return tms

    async def login(self, page: Page) -> None:
        """B2.3 login flow; raises `LoginFailed` (with artifacts) on any failure."""
        if self.login_attempted:
            await self.fail_login(page, "login_loop", "login needed again after logging in (login loop)")
        self.login_attempted = True
        if not self.config.username or not self.config.password:
            await self.fail_login(page, "post_login_probe", "PORTAL_USERNAME/PORTAL_PASSWORD are not set")
        assert self.config.username is not None and self.config.password is not None
        t = self.config.timeouts
        if "login" not in page.url:
            await self.goto(page, self.config.login_url)
        if not await self.page_shows_login(page):
            self.logger.event(PHASE, "info", "portal reports an active session at the login URL")
            return
        user = page.locator("input[name='user_name']")
        try:
            await user.wait_for(state="visible", timeout=t.username_field)
            await user.fill(self.config.username)
            await page.locator("input[name='password']").fill(self.config.password)
        except PlaywrightError as exc:
            await self.fail_login(
                page, "post_login_probe", f"login form not usable: {describe_exception(exc)}"
            )
        try:
            async with page.expect_navigation(wait_until="domcontentloaded", timeout=t.submit_navigation):
                await page.locator("button[type='submit']").first.click()
        except PlaywrightTimeoutError:
            self.logger.event(PHASE, "warn", "no navigation after submitting the login form")
        # An explicit refusal is final: no point waiting for the form to go away (B2.3 step 6).
        if reports_login_error(await page.content()):
            await self.fail_login(page, "post_login_probe", "site reports login error")
        try:
            await user.wait_for(state="detached", timeout=t.form_detach)
        except PlaywrightError:
            with contextlib.suppress(PlaywrightError):
                await user.wait_for(state="hidden", timeout=t.username_field)
        if reports_login_error(await page.content()):
            await self.fail_login(page, "post_login_probe", "site reports login error")
        if await self.page_shows_login(page) or not same_origin(page.url, self.config.portal_origin):
            await self.fail_login(page, "post_login_probe", "still not logged in after submitting the form")
        if not self.config.is_home(page.url):
            await self.fail_login(
                page,
                "post_login_probe",
                "portal asks for a one-time password or other step; run `crm portal login --headed`",
            )
        self.logged_in = True
        self.logger.event(PHASE, "ok", "logged in to the portal", password_length=len(self.config.password))
        await save_storage_state(self.context, self.config.storage_state)

    async def fail_login(self, page: Page, prefix: str, reason: str) -> None:
        """Screenshot + HTML of the failing page (password field emptied and masked), then abort."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        who = self.config.username or "unknown"
        base = self.config.artifacts / f"{prefix}_{who}_{stamp}"
        base.parent.mkdir(parents=True, exist_ok=True)
        try:
            password = page.locator("input[type='password']")
            for i in range(await password.count()):
                await password.nth(i).fill("")
            await page.screenshot(path=str(base.with_suffix(".png")), full_page=True, mask=[password])
            html = redact_text(await page.content())
            if self.config.password:
                html = html.replace(self.config.password, "***")
            write_atomic(base.with_suffix(".html"), html.encode())
            self.artifacts += [base.with_suffix(".png"), base.with_suffix(".html")]
        except PlaywrightError as exc:
            self.logger.event(PHASE, "warn", "could not capture login artifacts", exc=exc)
        self.logger.event(
            PHASE, "error", f"portal login failed: {reason}", artifacts=[str(p) for p in self.artifacts]
        )
        raise LoginFailed(reason)

    async def tracker_hop(self, page: Page) -> Page:
        """Click the "Daily Operations Tracker" card; the TMS opens in a new tab (or this one)."""
        t = self.config.timeouts
        if not self.config.is_home(page.url):
            await self.goto(page, self.config.home_url)
        heading = page.locator("h5.card-title", has_text=TRACKER_TITLE).first
        await heading.wait_for(state="visible", timeout=t.tracker_heading)
        card = heading.locator(_CARD_XPATH)
        new_page = asyncio.ensure_future(self.context.wait_for_event("page", timeout=t.tracker_open))
        same_tab = asyncio.ensure_future(
            page.wait_for_url(
                lambda url: same_origin(url, self.config.tms_origin),
                wait_until="domcontentloaded",
                timeout=t.tracker_open,
            )
        )
        await card.click()
        done, pending = await asyncio.wait({new_page, same_tab}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        tms: Page = new_page.result() if new_page in done and not new_page.exception() else page
        if tms is page and (same_tab.exception() if same_tab in done else None):
            raise PortalUnavailable("tracker card opened neither a new tab nor the TMS")
        await tms.wait_for_load_state("domcontentloaded")
        if tms is not page:
            await page.close()
        if await self.page_shows_login(tms):
            await self.fail_login(tms, "tms_handoff", "TMS refused the tracker hand-off (not logged in)")
        self.logger.event(PHASE, "info", "TMS session established", new_tab=tms is not page)
        return tms

    async def refresh(self, page: Page, store_code: str, seen_generation: int) -> None:
        """B2.4 session refresh, once per stale generation however many workers noticed it."""
        async with self._lock:
            if self.generation != seen_generation:
                return
            await self.goto(page, self.config.dashboard_url(store_code))
            if await self.page_shows_login(page):
                home = await self.context.new_page()
                try:
                    await self.goto(home, self.config.home_url)
                    if await self.page_shows_login(home):
                        self.login_attempted = False  # a new expiry: one fresh login is allowed
                        await self.login(home)
                    tms = await self.tracker_hop(home)
                    if not tms.is_closed():
                        await tms.close()
                finally:
                    if not home.is_closed():
                        await home.close()
                await self.goto(page, self.config.dashboard_url(store_code))
            try:
                await page.locator(DOWNLOAD_CONTROLS).first.wait_for(
                    state="visible", timeout=self.config.timeouts.download_controls
                )
            except PlaywrightTimeoutError:
                reason = "login loop" if await self.page_shows_login(page) else "dashboard controls not found"
                raise RefreshFailed(reason) from None
            self.generation += 1
            await save_storage_state(self.context, self.config.storage_state)


class RefreshFailed(Exception):
    pass


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
        result.figures = await self.scrape(store_code)
        for spec in self.specs:
            result.exports[spec.bucket] = await self.fetch(store_code, spec)
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
        """Dashboard figures (B3); any failure is a warning and downloads go on (B12.14)."""
        url = self.config.dashboard_url(store_code)
        refreshed = rate_limited = 0
        while True:
            generation = self.session.generation
            try:
                status = await self.session.goto(self.page, url)
                if status == 429:  # A4: back off and retry, as for the exports
                    if rate_limited >= self.config.rate_limit_retries:
                        self._warn(
                            store_code,
                            f"dashboard still rate limited (HTTP 429) after {rate_limited} retries",
                        )
                        return None
                    delay = min(self.config.backoff_s * 2**rate_limited, self.config.max_backoff_s)
                    rate_limited += 1
                    self.logger.event(
                        PHASE,
                        "info",
                        f"dashboard rate limited (HTTP 429); retrying in {delay:.1f} s",
                        store_code=store_code,
                        export="dashboard",
                    )
                    await asyncio.sleep(delay)
                    continue
                if status is not None and status >= 400 and status not in (401, 403):
                    self._warn(store_code, f"dashboard answered HTTP {status}")
                    return None
                if status in (401, 403) or await self.session.page_shows_login(self.page):
                    if refreshed:
                        self._warn(store_code, "dashboard still needs login after a session refresh")
                        return None
                    self._warn(store_code, "dashboard needs login; refreshing session")
                    await self.session.refresh(self.page, store_code, generation)
                    refreshed += 1
                    continue
                figures = parse_dashboard(await self.page.content(), store_code)
            except (PlaywrightError, RefreshFailed) as exc:
                self._warn(store_code, "dashboard not scraped", exc=exc)
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

    async def fetch(self, store_code: str, spec: ExportSpec) -> ExportResult:
        """One export through the context's request API with the rules of B2.4."""
        url = self.config.tms_origin + spec.url(store_code)
        path = self.config.downloads / spec.file_name(store_code)

        # A failing export makes the run a warning, never an error: the other stores and exports go on.
        def skip(reason: str, status: Literal["warn", "error"] = "warn", **extras: Any) -> ExportResult:
            self.logger.event(
                PHASE,
                status,
                f"export skipped: {reason}",
                store_code=store_code,
                bucket=spec.bucket,
                **extras,
            )
            return ExportResult(store_code, spec.bucket, "skipped", reason=reason)

        refreshed = rate_limited = truncated_retry = 0
        while True:
            generation = self.session.generation
            try:
                response = await self.session.context.request.get(
                    url, timeout=self.config.timeouts.nav, fail_on_status_code=False
                )
                status, headers, body = response.status, response.headers, await response.body()
                await response.dispose()
            except PlaywrightError as exc:
                return skip("request failed", exc=exc)
            if status == 429:
                if rate_limited >= self.config.rate_limit_retries:
                    return skip(f"still rate limited (HTTP 429) after {rate_limited} retries")
                own = min(self.config.backoff_s * 2**rate_limited, self.config.max_backoff_s)
                delay = _retry_after(headers, own, self.config.max_retry_after_s)
                rate_limited += 1
                self.logger.event(
                    PHASE,
                    "warn",
                    f"rate limited (HTTP 429); retrying in {delay:.1f}s",
                    store_code=store_code,
                    bucket=spec.bucket,
                )
                await asyncio.sleep(delay)
                continue
            if status in (401, 403) or (status == 200 and looks_like_login(body[:4096])):
                why = f"HTTP {status}" if status != 200 else "login page instead of CSV"
                if refreshed:
                    return skip(f"retry after session refresh failed ({why})")
                self.logger.event(
                    PHASE, "warn", f"{why}; refreshing session", store_code=store_code, bucket=spec.bucket
                )
                refreshed += 1
                try:
                    await self.session.refresh(self.page, store_code, generation)
                except RefreshFailed as exc:
                    return skip(f"session refresh failed: {exc}")
                except PlaywrightError as exc:
                    return skip("session refresh failed", exc=exc)
                continue
            if status != 200:
                return skip(f"HTTP {status}")
            if not body.strip():
                return skip("empty body", "warn")
            try:
                checked = check_csv(body, spec)
            except InvalidExport as exc:
                if exc.transient and not truncated_retry:
                    truncated_retry += 1
                    self.logger.event(
                        PHASE,
                        "warn",
                        f"invalid download ({exc.reason}); fetching again",
                        store_code=store_code,
                        bucket=spec.bucket,
                    )
                    continue
                return skip(f"invalid file: {exc.reason}", "warn")
            break
        write_atomic(path, body)
        suggested = _suggested_name(headers.get("content-disposition", ""))
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


def _retry_after(headers: dict[str, str], fallback: float, cap: float) -> float:
    """Seconds to wait after a 429: the server's Retry-After (seconds or an HTTP date) when it is sane,
    up to `cap`; otherwise our own `fallback`."""
    value = headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError):
            return fallback
    if not math.isfinite(seconds) or seconds < 0:
        return fallback
    return min(seconds, cap)


def _suggested_name(disposition: str) -> str | None:
    match = re.search(r'filename="?([^";]+)"?', disposition)
    return match.group(1) if match else None


# --- entry points ----------------------------------------------------------------------------------------


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
    config.downloads.mkdir(parents=True, exist_ok=True)
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
        except Exception as exc:  # one store's surprise never stops the others (B12.14)
            worker.logger.event(PHASE, "warn", "store download failed", store_code=code, exc=exc)
            result.stores[code] = StoreResult(code, "failed", describe_exception(exc))
            if worker.page.is_closed():
                worker.page = await worker.session.context.new_page()


async def interactive_login(
    settings: Settings,
    logger: EventLogger,
    *,
    headed: bool = True,
    ask: Callable[[str], Awaitable[str]] | None = None,
) -> bool:
    """OTP bootstrap (B2.2 first_login): log in in a visible browser and save the storage state."""
    config = PortalConfig.from_settings(settings)
    async with open_browser(config, headless=not headed) as browser:
        context = await browser.new_context(storage_state=load_storage_state(config.storage_state, logger))  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(config.login_url, wait_until="domcontentloaded")
        with contextlib.suppress(PlaywrightTimeoutError):
            await page.wait_for_url(lambda url: config.is_home(url), timeout=3_000)
        if not config.is_home(page.url):
            if not config.username or not config.password:
                raise ConfigError("PORTAL_USERNAME and PORTAL_PASSWORD must be set for the first login")
            await page.locator("input[name='user_name']").fill(config.username)
            await page.locator("input[name='password']").fill(config.password)
            await page.locator("button[type='submit']").first.click()
            try:
                await page.wait_for_url(lambda url: config.is_home(url), timeout=60_000)
            except PlaywrightTimeoutError:
                if ask is None:
                    logger.event(PHASE, "error", "login did not reach home (OTP needed? run with --headed)")
                    return False
                await ask("Complete the login (OTP) in the browser window, then press Enter here: ")
        ok = config.is_home(page.url) and not looks_like_login(await page.content())
        if ok:
            await save_storage_state(context, config.storage_state)
            logger.event(PHASE, "ok", "portal session saved", file=str(config.storage_state))
        else:
            logger.event(PHASE, "error", "portal login not completed; storage state not saved")
        await context.close()
        return ok
