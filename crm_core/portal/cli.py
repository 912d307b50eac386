"""`crm portal …` (login bootstrap, ad-hoc fetch) and `crm sandbox serve` (the portal simulator)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.table import Table

from crm_core.cli_support import console, fail, out, run_async, settings_or_exit
from crm_core.db.engine import open_engine, session_factory
from crm_core.db.stores import normalise_store_code, store_scope
from crm_core.json_logger import EventLogger
from crm_core.periods import daily_report_date
from crm_core.portal.download import DownloadResult, download_all
from crm_core.portal.persist import store_dashboard_figures
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.faults import FAULTS, FaultSpecError, parse_fault
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from crm_core.portal.session import interactive_login
from crm_core.settings import ConfigError, Settings

portal_app = typer.Typer(help="Vendor portal: first login (OTP) and ad-hoc downloads.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The portal simulator for development, tests and demos.", no_args_is_help=True)


def _parse_date(value: str | None, settings: Settings) -> date:
    if value is None:
        return daily_report_date(zone=settings.zone)
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--date {value!r} is not YYYY-MM-DD")


@portal_app.command("login")
def login(
    headed: Annotated[
        bool, typer.Option("--headed/--headless", help="show the browser (needed for an OTP)")
    ] = False,
) -> None:
    """Log in once (complete an OTP in the visible browser) and save the session for unattended runs."""
    settings = settings_or_exit()
    logger = EventLogger(f"portal-login-{datetime.now(UTC):%Y%m%dT%H%M%S}", "portal_login", stream=None)

    async def ask(prompt: str) -> str:
        return await asyncio.to_thread(input, prompt)

    ok = run_async(interactive_login(settings, logger, headed=headed, ask=ask if headed else None))
    if not ok:
        fail("portal login not completed (see the messages above; try --headed for an OTP)", code=1)
    out.print(f"portal session saved to {settings.storage_state_path} (mode 0600)")


async def _fetch(
    settings: Settings, stores: list[str] | None, report_date: date, logger: EventLogger
) -> DownloadResult:
    if not stores:
        async with open_engine(settings) as engine, session_factory(engine)() as session:
            stores = (await store_scope(session)).etl
    result = await download_all(settings, stores, report_date, logger)
    if result.figures:
        try:
            async with open_engine(settings) as engine:
                problems = await store_dashboard_figures(engine, list(result.figures.values()), logger.run_id)
            for code, problem in problems.items():
                logger.event("download", "warn", f"dashboard figures not stored: {problem}", store_code=code)
        except ConfigError as exc:
            logger.event("download", "warn", f"dashboard figures not stored: {exc}")
        except Exception as exc:  # the files are the deliverable here; a DB problem is reported, not fatal
            logger.event("download", "warn", "dashboard figures not stored", exc=exc)
    return result


@portal_app.command("fetch")
def fetch(
    date_: Annotated[
        str | None, typer.Option("--date", help="report date YYYY-MM-DD (default: yesterday)")
    ] = None,
    stores: Annotated[
        str | None, typer.Option("--stores", help="comma-separated store codes (default: ETL stores)")
    ] = None,
) -> None:
    """Download dashboard figures and the enabled exports of the stores into DOWNLOADS_DIR."""
    settings = settings_or_exit()
    report_date = _parse_date(date_, settings)
    try:
        codes = [normalise_store_code(c) for c in stores.split(",") if c.strip()] if stores else None
    except ConfigError as exc:
        fail(str(exc))
    logger = EventLogger(
        f"portal-fetch-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        "portal_fetch",
        stream=None,
        file_path=settings.json_log_file,
        events=[],
    )
    result = run_async(_fetch(settings, codes, report_date, logger))
    table = Table(title=f"Portal download for {report_date} ({result.duration_s:.1f}s)")
    for col in ("store", "status", "figures", *(b for b in result.files), "reason"):
        table.add_column(col)
    buckets = list(result.files)
    for code, store in sorted(result.stores.items()):
        rows = [str(result.files[b][code][1]) if code in result.files[b] else "-" for b in buckets]
        figures = str(store.figures.found_metrics) if store.figures else "-"
        table.add_row(code, store.status, figures, *rows, store.reason or "")
    out.print(table)
    for event in logger.events or []:
        if event["status"] in ("warn", "warning", "error"):
            where = " ".join(str(v) for v in (event["store_code"], event["bucket"]) if v)
            console.print(f"[yellow]{event['status']}[/] {event['message']} {f'({where})' if where else ''}")
    out.print(f"files in {settings.downloads_path}")
    if result.login_failed:
        fail(
            f"portal login failed: {result.login_reason} "
            f"(artifacts: {', '.join(map(str, result.artifacts))})",
            1,
        )
    if result.stores and all(s.status == "failed" for s in result.stores.values()):
        fail("no store could be downloaded", 1)


@sandbox_app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="portal origin port (0 = any free port)")] = 8801,
    tms_port: Annotated[int, typer.Option("--tms-port", help="TMS origin port (0 = any free port)")] = 8802,
    seed: Annotated[int, typer.Option(help="seed of the synthetic data")] = 0,
    date_: Annotated[
        str | None, typer.Option("--date", help="dashboard date (default: yesterday, Asia/Kolkata)")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help=(
                "NAME with optional @STORE /ENDPOINT =VALUE #TIMES, e.g. status@A668/missed_leads=429#2; "
                "repeatable; --fault list shows all"
            ),
        ),
    ] = None,
) -> None:
    """Run the portal simulator (portal + TMS origins on 127.0.0.1) until interrupted."""
    faults = tuple(fault or ())
    if "list" in faults:
        for name, text in FAULTS.items():
            out.print(f"{name:16} {text}")
        return
    try:
        for spec in faults:
            parse_fault(spec)
        dashboard_date = date.fromisoformat(date_) if date_ else None
    except (FaultSpecError, ValueError) as exc:
        fail(str(exc))
    try:
        server = SandboxServer(
            SandboxConfig(
                port=port, tms_port=tms_port, seed=seed, dashboard_date=dashboard_date, faults=faults
            )
        )
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}/{tms_port}: {exc.strerror}")
    out.print(f"portal  {server.portal_origin}\nTMS     {server.tms_origin}")
    out.print(f"login   {DEMO_USERNAME} / {DEMO_PASSWORD}   (dashboard date {server.state.dashboard_date})")
    out.print("\n# for the downloader:")
    out.print(f"export PORTAL_BASE_URL={server.portal_origin} PORTAL_TMS_URL={server.tms_origin}")
    out.print(f"export PORTAL_USERNAME={DEMO_USERNAME} PORTAL_PASSWORD={DEMO_PASSWORD}")
    out.print(
        f"\nadmin: POST {server.portal_origin}/__sandbox/faults "
        '{"spec": "status@A668/missed_leads=429#1"}, POST /__sandbox/expire?scope=tms|all, '
        'POST /__sandbox/config {"date": "YYYY-MM-DD"}, GET /__sandbox/state'
    )
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        console.print("simulator stopped")
