"""`crm run daily`: the daily flow run now, locally, as a Prefect flow run.

The flow (and with it Prefect) is imported only when the command runs. Without `PREFECT_API_URL` Prefect
starts a temporary local server for the run (about 15 s).
"""

from __future__ import annotations

import asyncio
import os
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape

from crm_core.cli.support import ReportDate, fail, out, parse_date, parse_stores, run_async, settings_or_exit

app = typer.Typer(
    help="Run a pipeline now, locally (the same flow the deployments run).", no_args_is_help=True
)

DryRun = Annotated[
    bool,
    typer.Option("--dry-run", "--dry_run", help="download and merge only: no DB writes, deletions, emails"),
]


def run_daily_flow(report_date: date | None, stores: list[str] | None, dry_run: bool) -> dict[str, Any]:
    """Run the flow in this process; ConfigError → exit 2, anything else unexpected → exit 1."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from crm_core.json_logger import describe_exception
    from crm_core.settings import ConfigError
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


def print_summary(result: dict[str, Any]) -> None:
    out.print()
    out.print(escape(result["summary_text"]), highlight=False)


def exit_code(result: dict[str, Any]) -> int:
    return 1 if result["status"] == "error" else 0


@app.command("daily")
def daily(
    date_: ReportDate = None,
    stores: Annotated[str | None, typer.Option(help="only these ETL stores, comma-separated")] = None,
    dry_run: DryRun = False,
) -> None:
    """The daily job: download, ingest, audit, cleanup, PDFs, run summary, emails (exit 1 on error)."""
    from crm_core.runs.daily import preflight

    settings = settings_or_exit()
    report_date = parse_date(date_)
    subset = parse_stores(stores)
    run_async(preflight(settings, subset))  # exit 2 before any browser or Prefect work
    result = run_daily_flow(report_date, subset, dry_run)
    print_summary(result)
    raise typer.Exit(exit_code(result))
