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
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from crm_core.errors import CrmError
from crm_core.fsutil import AtomicFile
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
    # A streamed export: the body is in this private temporary file (`body` holds its first bytes); the
    # caller commits it under its final name or aborts it.
    file: AtomicFile | None = None

    def discard(self) -> None:
        if self.file is not None:
            self.file.abort()


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
        except httpx.HTTPError as exc:
            raise FetchFailed("request failed", exc=_root_cause(exc)) from None
        if reply.file is not None and (reply.status != 200 or reply.shows_login):
            reply.discard()
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
            reply.discard()
            if not exc.refetch or refetched:
                raise
            refetched += 1
            _note(session, target, "warn", f"{exc.reason}; fetching again")
        except PlaywrightError as exc:
            reply.discard()
            raise FetchFailed("request failed", exc=exc) from None
        except BaseException:
            reply.discard()
            raise


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


SNIFF_BYTES = 4096
STREAM_CHUNK = 1 << 16


class TooLarge(FetchFailed):
    """The body is over the configured limit (`PORTAL_MAX_EXPORT_BYTES`); fetching again would not help."""


def via_stream(session: PortalSession, url: str, dest: Path) -> Send:
    """GET `url` with the context's cookies, streaming the body into a private temporary file beside
    `dest` (never into memory): at most `max_export_bytes` after decompression, refused as soon as the
    Content-Length or the bytes received go over. Playwright's request API would hold the whole body."""
    limit = session.config.max_export_bytes

    def too_large(what: str) -> TooLarge:
        return TooLarge(
            f"export too large: {what} is over the limit of {limit} bytes (PORTAL_MAX_EXPORT_BYTES)"
        )

    async def send() -> Reply:
        client = await session.http()
        async with client.stream("GET", url) as response:
            status, reply_headers = response.status_code, dict(response.headers)
            decoder = _Decoder(reply_headers.get("content-encoding", ""))
            if status != 200:  # an error page: only its first bytes matter (a login page?)
                head = b""
                async for raw in response.aiter_raw(STREAM_CHUNK):
                    head += decoder.feed(raw, SNIFF_BYTES - len(head))
                    if len(head) >= SNIFF_BYTES:
                        break
                return Reply(status, reply_headers, head, shows_login=False)
            length = reply_headers.get("content-length", "")
            if length.isdigit() and "content-encoding" not in reply_headers and int(length) > limit:
                raise too_large(f"Content-Length {int(length)}")
            target = AtomicFile(dest)
            try:
                head, written = b"", 0
                async for raw in response.aiter_raw(STREAM_CHUNK):
                    while piece := decoder.feed(raw, STREAM_CHUNK):
                        raw = b""
                        written += len(piece)
                        if written > limit:
                            raise too_large(
                                f"{'the decompressed body' if decoder.compressed else 'the body'}"
                            )
                        target.file.write(piece)
                        if len(head) < SNIFF_BYTES:
                            head += piece[: SNIFF_BYTES - len(head)]
                            if len(head) >= SNIFF_BYTES and looks_like_login(head):
                                target.abort()
                                return Reply(status, reply_headers, head, shows_login=True)
                decoder.finish()
                target.file.flush()  # the checks read the file by its name
            except BaseException:
                target.abort()
                raise
            return Reply(status, reply_headers, head, shows_login=looks_like_login(head), file=target)

    return send


class _Decoder:
    """Content-Encoding undone a bounded piece at a time: a small gzip body that inflates to gigabytes
    is refused by the size check long before it is in memory."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise FetchFailed(f"unsupported Content-Encoding {encoding!r}")
        self.compressed = encoding not in ("", "identity")
        # 47: a zlib or a gzip header, detected from the data.
        self._zlib = zlib.decompressobj(47) if self.compressed else None
        self._pending = b""

    def feed(self, raw: bytes, max_out: int) -> bytes:
        """Up to `max_out` decoded bytes from `raw` plus what is left of earlier input; call again with
        b"" until it returns b"" to drain the input."""
        if self._zlib is None:
            data, self._pending = self._pending + raw, b""
            if len(data) > max_out:
                data, self._pending = data[:max_out], data[max_out:]
            return data
        try:
            out = self._zlib.decompress(self._pending + raw, max_out)
        except zlib.error as exc:
            raise FetchFailed(f"corrupt compressed body ({exc})") from None
        self._pending = self._zlib.unconsumed_tail
        return out

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise FetchFailed("compressed body cut short", refetch=True)


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost OS error behind an HTTP client error (ECONNREFUSED rather than "all attempts
    failed"); the client's own error (a ReadTimeout, say) when there is none."""
    found, inner = exc, exc.__cause__ or exc.__context__
    while inner is not None:
        if isinstance(inner, OSError):
            found = inner
        inner = inner.__cause__ or inner.__context__
    return found


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
