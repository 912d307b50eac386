"""`crm portal login|fetch`: the first (OTP) login and ad-hoc downloads from the vendor portal."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from crm_core.cli.support import (
    ReportDate,
    StoreList,
    console,
    fail,
    out,
    parse_date,
    parse_stores,
    run_async,
    settings_or_exit,
    shown,
)

app = typer.Typer(help="Vendor portal: first login (OTP) and ad-hoc downloads.", no_args_is_help=True)


@app.command("login")
def login(
    headed: Annotated[
        bool, typer.Option("--headed/--headless", help="show the browser (needed for an OTP)")
    ] = False,
) -> None:
    """Log in once and save the session for unattended runs; the portal's one-time code is typed in the
    terminal (or, --headed, completed in the browser window)."""
    from crm_core.json_logger import EventLogger
    from crm_core.portal.session import interactive_login, require_chromium

    settings = settings_or_exit()
    run_async(require_chromium(settings))
    logger = EventLogger(f"portal-login-{datetime.now(UTC):%Y%m%dT%H%M%S}", "portal_login", stream=None)

    async def ask(prompt: str) -> str:
        return await asyncio.to_thread(input, prompt)

    # A terminal can answer: the browser window (headed) or the one-time code itself (headless, as in
    # the container: `docker compose run --rm -it worker crm portal login`).
    terminal = headed or sys.stdin.isatty()
    ok = run_async(interactive_login(settings, logger, headed=headed, ask=ask if terminal else None))
    if not ok:
        fail("portal login not completed (see the messages above; run it in a terminal for the OTP)", code=1)
    out.print(f"portal session saved to {settings.storage_state_path} (mode 0600)")


@app.command("fetch")
def fetch(date_: ReportDate = None, stores: StoreList = None) -> None:
    """Download dashboard figures and the enabled exports of the stores into DOWNLOADS_DIR."""
    from rich.table import Table

    from crm_core.json_logger import EventLogger
    from crm_core.periods import daily_report_date
    from crm_core.portal.adhoc import fetch_stores
    from crm_core.portal.session import require_chromium

    settings = settings_or_exit()
    report_date = parse_date(date_) or daily_report_date(zone=settings.zone)
    codes = parse_stores(stores)
    run_async(require_chromium(settings))
    logger = EventLogger(
        f"portal-fetch-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        "portal_fetch",
        stream=None,
        file_path=settings.json_log_file,
        events=[],
    )
    result = run_async(fetch_stores(settings, codes, report_date, logger))
    table = Table(title=f"Portal download for {report_date} ({result.duration_s:.1f}s)")
    for col in ("store", "status", "figures", *(b for b in result.files), "reason"):
        table.add_column(col)
    buckets = list(result.files)
    for code, store in sorted(result.stores.items()):
        rows = [str(result.files[b][code][1]) if code in result.files[b] else "-" for b in buckets]
        figures = str(store.figures.found_metrics) if store.figures else "-"
        table.add_row(*(shown(v) for v in (code, store.status, figures, *rows, store.reason or "")))
    out.print(table)
    for event in logger.events or []:
        if event["status"] in ("warn", "warning", "error"):
            where = " ".join(str(v) for v in (event["store_code"], event["bucket"]) if v)
            console.print(
                f"[yellow]{shown(event['status'])}[/] {shown(event['message'])} "
                f"{shown(f'({where})') if where else ''}",
                highlight=False,
            )
    out.print(f"files in {settings.downloads_path}")
    if result.login_failed:
        fail(
            f"portal login failed: {result.login_reason} "
            f"(artifacts: {', '.join(map(str, result.artifacts))})",
            1,
        )
    if result.stores and all(s.status == "failed" for s in result.stores.values()):
        fail("no store could be downloaded", 1)
