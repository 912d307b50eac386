"""One GET policy for every request made once logged in: dashboard pages and CSV exports alike.

- HTTP 429: wait (the server's Retry-After when sane, else our exponential back-off) and retry, up to
  `rate_limit_retries` times;
- HTTP 401/403 or a login page instead of the content: refresh the session once and retry;
- any other status of 400 or more, a browser/network error, or a refresh that fails: give up;
- the caller's `check` turns the reply into its result and may ask for one more fetch of a body that
  arrived cut short.

Giving up is a `FetchFailed` with a one-line reason; the caller records it and the run goes on. Only a
failed login (`LoginFailed`, from the refresh) stops everything.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from crm_core.errors import CrmError
from crm_core.portal.config import PHASE
from crm_core.portal.detect import looks_like_login
from crm_core.portal.session import PortalSession, RefreshFailed

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """What one attempt got back; `shows_login` when the portal answered with its login page instead."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    shows_login: bool = False


Send = Callable[[], Awaitable[Reply]]


class FetchFailed(CrmError):
    """The request was given up; `reason` says why in one line (`exc` is the error behind it, if any)."""

    def __init__(self, reason: str, *, exc: BaseException | None = None, refetch: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exc = exc
        self.refetch = refetch  # raised by a check: one more fetch may bring a whole body


@dataclass(frozen=True)
class Target:
    """What is fetched, for the events: the store, a noun for messages and the event fields naming it."""

    store_code: str
    noun: str
    fields: dict[str, Any]
    # A 429 that is then retried: the dashboard figures treat it as routine, the exports report it.
    retry_level: Literal["info", "warn"] = "warn"


async def fetch(
    session: PortalSession,
    page: Page,
    target: Target,
    send: Send,
    check: Callable[[Reply], Awaitable[T]],
) -> T:
    """`send` until the reply is usable, then `check` it (see the module docstring); `page` is the one a
    session refresh may navigate."""
    config = session.config
    refreshed = rate_limited = refetched = 0
    while True:
        generation = session.generation
        try:
            reply = await send()
        except PlaywrightError as exc:
            raise FetchFailed("request failed", exc=exc) from None
        if reply.status == 429:
            if rate_limited >= config.rate_limit_retries:
                raise FetchFailed(f"still rate limited (HTTP 429) after {rate_limited} retries")
            own = min(config.backoff_s * 2**rate_limited, config.max_backoff_s)
            delay = retry_after(reply.headers, own, config.max_retry_after_s)
            rate_limited += 1
            message = f"{target.noun} rate limited (HTTP 429); retrying in {delay:.1f} s"
            _note(session, target, target.retry_level, message)
            await asyncio.sleep(delay)
            continue
        if reply.status in (401, 403) or reply.shows_login:
            why = f"login page instead of {target.noun}" if reply.shows_login else f"HTTP {reply.status}"
            if refreshed:
                raise FetchFailed(f"retry after session refresh failed ({why})")
            _note(session, target, "warn", f"{why}; refreshing session")
            refreshed += 1
            try:
                await session.refresh(page, target.store_code, generation)
            except RefreshFailed as exc:
                raise FetchFailed(f"session refresh failed: {exc}") from None
            except PlaywrightError as exc:
                raise FetchFailed("session refresh failed", exc=exc) from None
            continue
        if reply.status is not None and reply.status >= 400:
            raise FetchFailed(f"HTTP {reply.status}")
        try:
            return await check(reply)
        except FetchFailed as exc:
            if not exc.refetch or refetched:
                raise
            refetched += 1
            _note(session, target, "warn", f"{exc.reason}; fetching again")
        except PlaywrightError as exc:
            raise FetchFailed("request failed", exc=exc) from None


def via_page(session: PortalSession, page: Page, url: str) -> Send:
    """Navigate `page` to `url` (with the session's retries on network errors)."""

    async def send() -> Reply:
        response = await session.goto(page, url)
        status = response.status if response is not None else None
        headers = response.headers if response is not None else {}
        # An error page is judged by its status alone.
        shows_login = (status is None or status < 400) and await session.page_shows_login(page)
        return Reply(status, headers, shows_login=shows_login)

    return send


def via_request(session: PortalSession, url: str) -> Send:
    """GET `url` through the context's request API, which shares the page's cookies."""

    async def send() -> Reply:
        response = await session.context.request.get(
            url, timeout=session.config.timeouts.nav, fail_on_status_code=False
        )
        status, headers, body = response.status, response.headers, await response.body()
        await response.dispose()
        return Reply(status, headers, body, shows_login=status == 200 and looks_like_login(body[:4096]))

    return send


def retry_after(headers: dict[str, str], fallback: float, cap: float) -> float:
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


def _note(session: PortalSession, target: Target, level: Literal["info", "warn"], message: str) -> None:
    session.logger.event(PHASE, level, message, store_code=target.store_code, **target.fields)
