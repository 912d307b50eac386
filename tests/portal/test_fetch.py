"""The one GET policy, in real Chromium against the simulator's fault modes: 429 with Retry-After, server
errors, session expiry, bodies cut short, network errors."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from playwright.async_api import Page

from crm_core.exports import get_export
from crm_core.json_logger import EventLogger
from crm_core.portal.fetch import FetchFailed, Reply, Target, fetch, retry_after, via_page, via_stream
from crm_core.portal.files import InvalidExport, check_csv
from crm_core.portal.sandbox.server import SandboxServer
from crm_core.portal.session import PortalSession, open_browser
from tests.portal.simulated import events, fast_config, make_settings

STORE = "A668"
MISSED = get_export("missed_leads")
CSV = Target(STORE, "CSV", {"bucket": MISSED.bucket})
DASHBOARD = Target(STORE, "dashboard", {"export": "dashboard"}, retry_level="info")


@pytest.fixture
async def portal(sim: SandboxServer, tmp_path: Path) -> AsyncIterator[tuple[PortalSession, Page]]:
    """A logged-in session and its TMS page."""
    settings = make_settings(sim, tmp_path)
    async with open_browser(fast_config(settings)) as browser:
        context = await browser.new_context()
        session = PortalSession(
            context, fast_config(settings), EventLogger("t", "fetch", stream=None, events=[])
        )
        page = await session.start()
        session.logger.events.clear()  # each test looks only at what its requests logged
        yield session, page
        await session.close()
        await context.close()


async def body_of(reply: Reply) -> bytes:
    """The whole streamed body (the temporary file is then removed)."""
    body = reply.file.tmp.read_bytes() if reply.file is not None else reply.body
    reply.discard()
    return body


def export_url(sim: SandboxServer) -> str:
    return sim.tms_origin + MISSED.url(STORE)


def requests(sim: SandboxServer, endpoint: str = "missed_leads") -> int:
    return sim.state.stats[f"request:{endpoint}"]


async def get_csv(session: PortalSession, page: Page, sim: SandboxServer) -> bytes:
    return await fetch(session, page, CSV, via_stream(session, export_url(sim), dest(session)), body_of)


def dest(session: PortalSession) -> Path:
    return session.config.downloads / MISSED.file_name(STORE)


pytestmark = pytest.mark.e2e


async def test_429_waits_as_long_as_retry_after_says(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal
    sim.state.faults.add(f"status@{STORE}/missed_leads=429#2")  # answered with Retry-After: 1
    before, started = requests(sim), time.monotonic()
    body = await get_csv(session, page, sim)
    assert check_csv(body, MISSED).rows > 0
    assert requests(sim) - before == 3
    assert time.monotonic() - started >= 2.0  # our own back-off alone would be 0.15 s
    assert events(session.logger) == ["warn: CSV rate limited (HTTP 429); retrying in 1.0 s"] * 2


async def test_429_gives_up_after_the_retries_and_caps_retry_after(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal
    session.config = replace(session.config, rate_limit_retries=2, max_retry_after_s=0.2)
    sim.state.faults.add(f"status@{STORE}/missed_leads=429")
    before, started = requests(sim), time.monotonic()
    with pytest.raises(FetchFailed, match=r"^still rate limited \(HTTP 429\) after 2 retries$"):
        await get_csv(session, page, sim)
    assert requests(sim) - before == 3
    assert 0.4 <= time.monotonic() - started < 1.5


async def test_a_server_error_is_final(sim: SandboxServer, portal: tuple[PortalSession, Page]) -> None:
    session, page = portal
    sim.state.faults.add(f"status@{STORE}/missed_leads=503#1")  # a retry would have succeeded
    before = requests(sim)
    with pytest.raises(FetchFailed, match=r"^HTTP 503$") as info:
        await get_csv(session, page, sim)
    assert requests(sim) - before == 1 and info.value.exc is None
    assert session.generation == 0 and events(session.logger) == []


@pytest.mark.parametrize(
    ("fault", "why", "handoffs", "logins"),
    [
        ("expire@{store}/missed_leads#1", "login page instead of CSV", 1, 0),  # the TMS session died
        ("expire@{store}/missed_leads=all#1", "login page instead of CSV", 1, 1),  # the portal's too
        ("status@{store}/missed_leads=401#1", "HTTP 401", 0, 0),  # sessions fine: the dashboard suffices
    ],
)
async def test_an_expired_session_is_refreshed_once_and_the_request_repeated(
    sim: SandboxServer, portal: tuple[PortalSession, Page], fault: str, why: str, handoffs: int, logins: int
) -> None:
    session, page = portal
    sim.state.faults.add(fault.format(store=STORE))
    handed_off, logged_in = sim.state.stats["tms_handoff"], sim.state.stats["login_ok"]
    body = await get_csv(session, page, sim)
    assert check_csv(body, MISSED).rows > 0
    assert session.generation == 1 and sim.state.stats["tms_handoff"] - handed_off == handoffs
    assert sim.state.stats["login_ok"] - logged_in == logins
    assert events(session.logger)[0] == f"warn: {why}; refreshing session"


async def test_still_logged_out_after_a_refresh_gives_up(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal
    sim.state.faults.add(f"logged_out@{STORE}/missed_leads")
    before = requests(sim)
    with pytest.raises(FetchFailed) as info:
        await get_csv(session, page, sim)
    assert info.value.reason == "retry after session refresh failed (login page instead of CSV)"
    assert requests(sim) - before == 2 and session.generation == 1


async def test_dashboard_pages_follow_the_same_policy(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal

    async def title(_reply: Reply) -> str:
        return await page.locator("h1.dashboard-title").inner_text()

    url = session.config.dashboard_url(STORE)
    sim.state.faults.add(f"status@{STORE}/dashboard=429#1")
    sim.state.faults.add(f"expire@{STORE}/dashboard#1")
    heading = await fetch(session, page, DASHBOARD, via_page(session, page, url), title)
    assert heading.startswith("Partner Dashboard")
    assert events(session.logger)[:2] == [
        "info: dashboard rate limited (HTTP 429); retrying in 1.0 s",  # routine for the figures
        "warn: login page instead of dashboard; refreshing session",
    ]
    sim.state.faults.add(f"status@{STORE}/dashboard=500")
    with pytest.raises(FetchFailed, match=r"^HTTP 500$"):
        await fetch(session, page, DASHBOARD, via_page(session, page, url), title)


async def test_a_body_cut_short_is_fetched_once_more(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal

    async def rows(reply: Reply) -> int:
        try:
            return check_csv(await body_of(reply), MISSED).rows
        except InvalidExport as exc:
            raise FetchFailed(f"invalid file: {exc.reason}", refetch=exc.transient) from None

    send = via_stream(session, export_url(sim), dest(session))
    sim.state.faults.add(f"truncated@{STORE}/missed_leads#1")
    assert await fetch(session, page, CSV, send, rows) > 0
    assert events(session.logger)[0].startswith("warn: invalid file: truncated")
    assert events(session.logger)[0].endswith("; fetching again")
    sim.state.faults.add(f"truncated@{STORE}/missed_leads")
    before = requests(sim)
    with pytest.raises(FetchFailed, match=r"^invalid file: truncated"):
        await fetch(session, page, CSV, send, rows)
    assert requests(sim) - before == 2


async def test_a_network_error_is_reported_with_its_cause(
    sim: SandboxServer, portal: tuple[PortalSession, Page]
) -> None:
    session, page = portal
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/export.csv"
    with pytest.raises(FetchFailed, match=r"^request failed$") as info:
        await fetch(session, page, CSV, via_stream(session, closed, dest(session)), body_of)
    assert isinstance(info.value.exc, ConnectionRefusedError)


def test_retry_after_is_honoured_when_sane() -> None:
    assert retry_after({"retry-after": "120"}, 2.0, 300.0) == 120.0  # the server knows its limit
    assert retry_after({"retry-after": "900"}, 2.0, 300.0) == 300.0
    for nonsense in ("-5", "nan", "soon", ""):
        assert retry_after({"retry-after": nonsense}, 2.0, 300.0) == 2.0, nonsense
    assert retry_after({}, 2.0, 300.0) == 2.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after({"retry-after": when}, 2.0, 300.0) <= 60
