"""The portal login of the one browser context: launch, saved session, login, tracker hop and refresh.

A failed login aborts the download phase (`LoginFailed`, never retried) after saving a screenshot and the
HTML of the failing page (password never captured); a portal that cannot be reached at start-up is an
outage (`PortalUnavailable`, retried by the task). `interactive_login` is the headed OTP bootstrap
(`crm portal login --headed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, BrowserContext, Locator, Page, Response, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from crm_core.errors import CrmError, PermanentError, TransientError
from crm_core.fsutil import private_dir, write_atomic
from crm_core.json_logger import EventLogger, describe_exception, redact_text
from crm_core.portal.config import (
    CARD_XPATH,
    CHROMIUM_ARGS,
    DOWNLOAD_CONTROLS,
    PHASE,
    TRACKER_TITLE,
    PortalConfig,
)
from crm_core.portal.detect import is_login_page, looks_like_login, reports_login_error, same_origin
from crm_core.settings import ConfigError, Settings


class LoginFailed(PermanentError):
    """The portal login failed; the download phase is aborted. Never retried."""


class PortalUnavailable(TransientError):
    """The portal could not be reached at all; worth retrying later."""


class RefreshFailed(CrmError):
    """A session refresh did not bring the download controls back; only the current request gives up."""


# --- storage state ---------------------------------------------------------------------------------------


def load_storage_state(path: Path, logger: EventLogger) -> dict[str, Any] | None:
    """The saved session; an unreadable file is a warning, never fatal."""
    if not path.exists():
        return None
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a secret: tighten a copy that arrived too readable
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
    write_atomic(path, json.dumps(state).encode())


# --- browser ---------------------------------------------------------------------------------------------

# Chromium's HTML parser itself never nests deeper than 512 elements; only a script builds a deeper DOM,
# and serialising one thousands of levels deep crashes the renderer.
MAX_DOM_DEPTH = 512
_DOM_DEPTH_JS = """(limit) => {
  const stack = [[document.documentElement, 1]];
  let deepest = 0;
  while (stack.length) {
    const [element, depth] = stack.pop();
    if (!element) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of element.children) stack.push([child, depth + 1]);
  }
  return deepest;
}"""


async def page_html(page: Page) -> str | None:
    """The page's HTML, or None when its DOM is nested deeper than `MAX_DOM_DEPTH` (measured without
    recursion first, since serialising such a page would crash it)."""
    if int(await page.evaluate(_DOM_DEPTH_JS, MAX_DOM_DEPTH)) > MAX_DOM_DEPTH:
        return None
    return await page.content()


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


# Where portals put the message of a refused or interrupted login (Bootstrap alerts and the like).
MESSAGE_SELECTOR = ".alert, [role='alert'], .error, .invalid-feedback, .text-danger"


async def portal_message(page: Page) -> str | None:
    """The visible message of the page (first alert), or its title; None when there is neither."""
    with contextlib.suppress(PlaywrightError):
        for text in await page.locator(MESSAGE_SELECTOR).all_inner_texts():
            if line := " ".join(text.split()):
                return line[:200]
        if title := " ".join((await page.title()).split()):
            return title[:200]
    return None


class PortalSession:
    """Login state of the one context: login once, tracker hop, refresh on demand (serialised)."""

    def __init__(self, context: BrowserContext, config: PortalConfig, logger: EventLogger) -> None:
        self.context = context
        self.config = config
        self.logger = logger
        self.generation = 0
        self.login_attempted = False
        self.logged_in = False
        self._http: httpx.AsyncClient | None = None  # exports are streamed outside the browser
        # Pages whose renderer crashed (a hostile page can do that): replaced, never reused.
        self._crashed: weakref.WeakSet[Page] = weakref.WeakSet()
        context.on("page", lambda page: page.once("crash", self._crashed.add))
        self.artifacts: list[Path] = []
        self._lock = asyncio.Lock()

    async def http(self) -> httpx.AsyncClient:
        """The one HTTP client of the session (its connections are reused), carrying the browser's
        User-Agent and, from the context, its current cookies."""
        if self._http is None:
            page = await self.context.new_page()
            try:
                agent = str(await page.evaluate("navigator.userAgent"))
            finally:
                await page.close()
            if self._http is None:  # another worker may have made it meanwhile
                self._http = httpx.AsyncClient(
                    timeout=httpx.Timeout(self.config.timeouts.nav / 1000),
                    follow_redirects=True,
                    # Only encodings we inflate ourselves, a bounded piece at a time.
                    headers={"User-Agent": agent, "Accept-Encoding": "gzip, deflate"},
                )
        client = self._http
        jar = httpx.Cookies()
        for cookie in await self.context.cookies():
            domain = cookie["domain"].lstrip(".")
            if "." not in domain:
                # The cookie jar matches a host name without a dot (`localhost`, a container's service
                # name) as `NAME.local`: filed under the bare name, the cookie would never be sent.
                domain += ".local"
            jar.set(cookie["name"], cookie["value"], domain=domain, path=cookie["path"])
        client.cookies = jar  # after a session refresh, the new session's cookies
        return client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def is_crashed(self, page: Page) -> bool:
        return page in self._crashed

    async def usable(self, page: Page) -> Page:
        """`page`, or a fresh page of the context when it was closed or its renderer crashed."""
        if not page.is_closed() and not self.is_crashed(page):
            return page
        with contextlib.suppress(PlaywrightError):
            await page.close()
        return await self.context.new_page()

    async def page_shows_login(self, page: Page) -> bool:
        html = await page_html(page)
        if html is None:
            return False  # a login page is a plain form, never nested this deep
        return is_login_page(
            page.url,
            html,
            portal_origin=self.config.portal_origin,
            tms_origin=self.config.tms_origin,
            login_path=self.config.login_path,
        ) or (same_origin(page.url, self.config.tms_origin) and looks_like_login(html))

    async def goto(self, page: Page, url: str, *, wait_ms: int | None = None) -> Response | None:
        """Navigate with up to `nav_attempts` tries on timeouts/network errors; HTTP statuses are the
        caller's business (a 429 is never retried here)."""
        last: Exception | None = None
        for attempt in range(1, self.config.nav_attempts + 1):
            try:
                return await page.goto(
                    url, wait_until="domcontentloaded", timeout=wait_ms or self.config.timeouts.nav
                )
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
        response = await self.goto(page, self.config.home_url)
        status = response.status if response is not None else None
        if status is not None and (status >= 500 or status == 429):
            raise PortalUnavailable(f"portal home answered HTTP {status}")

    async def _start(self, page: Page) -> Page:
        await self._home(page)
        if await self.page_shows_login(page):
            await self.login(page)
        else:
            self.logger.event(PHASE, "info", "saved portal session reused (no login)")
        # Home must not show the login form any more.
        await self._home(page)
        if await self.page_shows_login(page):
            if self.login_attempted:
                await self.fail_login(page, "home_login_after_auth", "home still shows the login page")
            await self.login(page)
        tms = await self.tracker_hop(page)
        await save_storage_state(self.context, self.config.storage_state)
        return tms

    async def login(self, page: Page) -> None:
        """Fill and submit the login form; raises `LoginFailed` (with artifacts) on any failure."""
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
        # An explicit refusal is final: no point waiting for the form to go away.
        if reports_login_error(await page.content()):
            await self.fail_login(page, "post_login_probe", await self._refusal(page))
        try:
            await user.wait_for(state="detached", timeout=t.form_detach)
        except PlaywrightError:
            with contextlib.suppress(PlaywrightError):
                await user.wait_for(state="hidden", timeout=t.username_field)
        if reports_login_error(await page.content()):
            await self.fail_login(page, "post_login_probe", await self._refusal(page))
        if await self.page_shows_login(page) or not same_origin(page.url, self.config.portal_origin):
            await self.fail_login(page, "post_login_probe", "still not logged in after submitting the form")
        if not self.config.is_home(page.url):
            shown = await portal_message(page)
            await self.fail_login(
                page,
                "post_login_probe",
                f"portal asks for a one-time password or other step at {urlsplit(page.url).path}"
                + (f' ("{shown}")' if shown else "")
                + "; run `crm portal login --headed`",
            )
        self.logged_in = True
        self.logger.event(PHASE, "ok", "logged in to the portal")
        await save_storage_state(self.context, self.config.storage_state)

    async def _refusal(self, page: Page) -> str:
        """The refusal in the portal's own words, so the operator sees what the login page said."""
        shown = await portal_message(page)
        return f'site reports login error: "{shown}"' if shown else "site reports login error"

    async def fail_login(self, page: Page, prefix: str, reason: str) -> None:
        """Screenshot + HTML of the failing page (password field emptied and masked), then abort."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        who = self.config.username or "unknown"
        base = self.config.artifacts / f"{prefix}_{who}_{stamp}"
        private_dir(base.parent)
        try:
            password = page.locator("input[type='password']")
            for i in range(await password.count()):
                await password.nth(i).fill("")
            # Taken as bytes: a path given to Playwright would be written with the umask's mode.
            shot = await page.screenshot(full_page=True, mask=[password])
            write_atomic(base.with_suffix(".png"), shot)
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
        card = heading.locator(CARD_XPATH)
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
        try:
            await tms.wait_for_load_state("domcontentloaded")
            shows_login = await self.page_shows_login(tms)
        except PlaywrightError as exc:
            if not (self.is_crashed(tms) or "crash" in str(exc).lower()):
                raise
            # The hand-off set the TMS session before its landing page crashed: go on with a fresh page;
            # a login page on the way would be noticed, and refreshed, by the next fetch.
            self.logger.event(PHASE, "warn", "TMS landing page crashed; continuing on a fresh page")
            self._crashed.add(tms)
            if tms is not page:
                await page.close()
            return await self.usable(tms)
        if tms is not page:
            await page.close()
        if shows_login:
            await self.fail_login(tms, "tms_handoff", "TMS refused the tracker hand-off (not logged in)")
        self.logger.event(PHASE, "info", "TMS session established", new_tab=tms is not page)
        return tms

    async def refresh(self, page: Page, store_code: str, seen_generation: int) -> None:
        """Session refresh, once per stale generation however many workers noticed it."""
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


async def _submit_and_wait_for_home(page: Page, config: PortalConfig, otp: Locator) -> None:
    """Submit the page's form and wait for the portal's home page, but not when the answer is a page
    asking for a one-time code (or the same code again): the operator is asked at once, not a minute later."""
    with contextlib.suppress(PlaywrightTimeoutError):  # a portal that answers without a new page
        async with page.expect_navigation(wait_until="domcontentloaded", timeout=60_000):
            await page.locator("button[type='submit']").first.click()
    if config.is_home(page.url) or await otp.count():
        return
    with contextlib.suppress(PlaywrightTimeoutError):
        await page.wait_for_url(lambda url: config.is_home(url), timeout=60_000)


async def interactive_login(
    settings: Settings,
    logger: EventLogger,
    *,
    headed: bool = True,
    ask: Callable[[str], Awaitable[str]] | None = None,
) -> bool:
    """OTP bootstrap: log in and save the storage state. Headed, the operator completes the login in the
    browser window; headless with `ask` (a terminal), the one-time code is asked for and typed in."""
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
            otp = page.locator("input[name='otp']")
            await _submit_and_wait_for_home(page, config, otp)
            if not config.is_home(page.url):
                if not headed and ask is not None and await otp.count():
                    # No window on a server (the container): the one-time code is typed in the terminal.
                    await otp.first.fill((await ask("One-time code sent by the portal: ")).strip())
                    await _submit_and_wait_for_home(page, config, otp)
                elif ask is None:
                    logger.event(PHASE, "error", "login did not reach home (OTP needed? run with --headed)")
                    return False
                else:
                    await ask("Complete the login (OTP) in the browser window, then press Enter here: ")
        ok = config.is_home(page.url) and not looks_like_login(await page.content())
        if ok:
            await save_storage_state(context, config.storage_state)
            logger.event(PHASE, "ok", "portal session saved", file=str(config.storage_state))
        else:
            logger.event(PHASE, "error", "portal login not completed; storage state not saved")
        await context.close()
        return ok
