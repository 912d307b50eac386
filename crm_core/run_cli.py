"""`crm run daily` and `crm demo`: the daily flow run locally, as a Prefect flow run.

The flows are imported only when a command runs: crm_core stays importable without Prefect's start-up cost.
Without `PREFECT_API_URL` Prefect starts a temporary local server for the run (about 15 s).
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from crm_core.blocks import resolve_block_secrets
from crm_core.cli_support import console, fail, out, run_async, settings_or_exit
from crm_core.db import migrate
from crm_core.db.engine import open_engine, session_factory
from crm_core.demo import seed_demo
from crm_core.json_logger import describe_exception
from crm_core.periods import daily_report_date
from crm_core.runs.daily import check_prerequisites
from crm_core.settings import ConfigError, Settings

run_app = typer.Typer(
    help="Run a pipeline now, locally (the same flow the deployments run).", no_args_is_help=True
)

DryRun = Annotated[
    bool,
    typer.Option("--dry-run", "--dry_run", help="download and merge only: no DB writes, deletions, emails"),
]


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        fail(f"--date {text!r} is not a date (YYYY-MM-DD)")


def run_daily_flow(report_date: date | None, stores: list[str] | None, dry_run: bool) -> dict[str, Any]:
    """Run the flow in this process; ConfigError → exit 2, anything else unexpected → exit 1."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from flows.daily import daily_flow

    async def _run() -> Any:
        state = await daily_flow(report_date=report_date, stores=stores, dry_run=dry_run, return_state=True)
        return state, await state.aresult(raise_on_failure=False)

    state, data = asyncio.run(_run())
    if isinstance(data, ConfigError):
        fail(str(data))
    if isinstance(data, BaseException):
        fail(f"daily run failed: {describe_exception(data)}", 1)
    if not isinstance(data, dict):
        fail(f"daily run ended {state.name}: {state.message or 'no result'}", 1)
    return data


def print_outcome(result: dict[str, Any]) -> None:
    out.print()
    out.print(escape(result["summary_text"]), highlight=False)


def exit_code(result: dict[str, Any]) -> int:
    return 1 if result["status"] == "error" else 0


@run_app.command("daily")
def run_daily(
    date_: Annotated[str | None, typer.Option("--date", help="report date YYYY-MM-DD (default: T-1)")] = None,
    stores: Annotated[str | None, typer.Option(help="only these ETL stores, comma-separated")] = None,
    dry_run: DryRun = False,
) -> None:
    """The daily job: download, ingest, audit, cleanup, PDFs, run summary, emails (exit 1 on error)."""
    settings = settings_or_exit()
    subset = [s for s in (stores or "").split(",") if s.strip()] or None
    report_date = parse_date(date_)
    run_async(_check_prerequisites(settings, subset))  # exit 2 before any browser or Prefect work
    result = run_daily_flow(report_date, subset, dry_run)
    print_outcome(result)
    raise typer.Exit(exit_code(result))


def demo_command(
    date_: Annotated[str | None, typer.Option("--date", help="report date YYYY-MM-DD (default: T-1)")] = None,
) -> None:
    """The whole daily job on embedded defaults: portal simulator, SQLite and the file outbox."""
    from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
    from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer

    settings = settings_or_exit()
    day = parse_date(date_) or daily_report_date(zone=settings.zone)
    os.environ.setdefault("JSON_LOG_FILE", str(settings.home / "logs" / "events.ndjson"))
    Path(os.environ["JSON_LOG_FILE"]).parent.mkdir(parents=True, exist_ok=True)
    added = run_async(_prepare_demo_database(settings))
    out.print(f"database  {settings.db_url_redacted}")
    for line in added:
        out.print(f"seeded    {line}")
    with SandboxServer(SandboxConfig(dashboard_date=day)) as sim:
        out.print(f"simulator portal {sim.portal_origin}  TMS {sim.tms_origin}  (dashboard date {day})")
        # The demo always talks to its own simulator, whatever PORTAL_* says.
        os.environ.update(
            PORTAL_BASE_URL=sim.portal_origin,
            PORTAL_TMS_URL=sim.tms_origin,
            PORTAL_USERNAME=DEMO_USERNAME,
            PORTAL_PASSWORD=DEMO_PASSWORD,
        )
        result = run_daily_flow(day, None, dry_run=False)
    settings = settings_or_exit()
    print_outcome(result)
    pdfs = [record["file_path"] for record in result["metrics"]["pdf"]["records"]]
    out.print("\n[bold]Where to look[/]")
    for pdf in pdfs:
        out.print(f"  PDF     {pdf}", highlight=False)
    email = result["metrics"]["email"]
    where = settings.outbox_path if email.get("transport") == "outbox" else f"SMTP {settings.smtp_host}"
    out.print(f"  emails  {email.get('message', email.get('status'))} → {where}", highlight=False)
    out.print(f"  events  {os.environ['JSON_LOG_FILE']}", highlight=False)
    out.print(f"  data    {settings.db_url_redacted}", highlight=False)
    if result["status"] != "ok":
        console.print(f"demo run finished with status {result['status']}")
    raise typer.Exit(exit_code(result))


async def _check_prerequisites(settings: Settings, subset: list[str] | None) -> None:
    settings = await resolve_block_secrets(settings)
    async with open_engine(settings) as engine:
        await check_prerequisites(engine, settings, subset)


async def _prepare_demo_database(settings: Settings) -> list[str]:
    async with open_engine(settings) as engine:
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            return await seed_demo(session)
