"""`crm run daily`: the daily flow run now, locally, as a Prefect flow run.

The flow (and with it Prefect) is imported only when the command runs. With `PREFECT_API_URL` set the run is
recorded on that server; without it Prefect starts a temporary local server for the run (about 15 s). The
first line printed says which.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from crm_core.cli.support import (
    ReportDate,
    checked,
    console,
    fail,
    out,
    parse_date,
    parse_month,
    parse_stores,
    run_async,
    settings_or_exit,
    shown,
)

app = typer.Typer(
    help="Run a pipeline now, locally (the same flow the deployments run).", no_args_is_help=True
)

DryRun = Annotated[
    bool,
    typer.Option("--dry-run", "--dry_run", help="download and merge only: no DB writes, deletions, emails"),
]


def run_flow_here(name: str, flow: Any, **parameters: Any) -> dict[str, Any]:
    """Run a flow in this process; ConfigError → exit 2, anything else unexpected → exit 1."""
    from crm_core.json_logger import describe_exception
    from crm_core.settings import ConfigError

    async def _run() -> Any:
        state = await flow(**parameters, return_state=True)
        return state, await state.aresult(raise_on_failure=False)

    target = prefect_target()
    if target not in _announced:  # `crm demo` runs several flows: say it once
        _announced.add(target)
        out.print(f"Prefect: {target}", highlight=False)
    from crm_core.cli.progress import run_progress

    with run_progress(console):
        state, data = asyncio.run(_run())
    if isinstance(data, ConfigError):
        fail(str(data))
    if isinstance(data, BaseException):
        fail(f"{name} run failed: {describe_exception(data)}", 1)
    if not isinstance(data, dict):
        fail(f"{name} run ended {state.name}: {state.message or 'no result'}", 1)
    return data


_announced: set[str] = set()


def prefect_target() -> str:
    """Where the flow run is recorded: the configured server, or one Prefect starts for this run only."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or "temporary local server"


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect's temporary server gets 20 s to start by default: too little on a busy two-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def run_daily_flow(
    report_date: date | None,
    stores: list[str] | None,
    dry_run: bool,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    send_emails: bool | None = None,
) -> dict[str, Any]:
    _quiet_prefect()
    from flows.daily import daily_flow

    # The range parameters only when given: a deployment's flow signature from before them still runs.
    extra: dict[str, Any] = {"date_from": date_from, "date_to": date_to, "send_emails": send_emails}
    return run_flow_here(
        "daily",
        daily_flow,
        report_date=report_date,
        stores=stores,
        dry_run=dry_run,
        **{k: v for k, v in extra.items() if v is not None},
    )


def run_period_flow(
    kind: str, period: str | None, max_periods: int, force: bool, dry_run: bool
) -> dict[str, Any]:
    """The weekly or monthly flow in this process (`kind` is 'weekly' or 'monthly')."""
    _quiet_prefect()
    if kind == "weekly":
        from flows.weekly import weekly_flow as flow
    else:
        from flows.monthly import monthly_flow as flow
    return run_flow_here(kind, flow, period=period, force=force, max_periods=max_periods, dry_run=dry_run)


def period_lines(kind: str, result: dict[str, Any]) -> list[str]:
    """One line per period produced, skipped or (dry run) planned, with where its PDFs are."""
    lines = []
    for entry in result["periods"]:
        head = f"{kind} {entry['label']}"
        if entry["action"] == "produced":
            pdfs = entry["pdfs"]
            where = f" in {Path(pdfs[0]).parent}" if pdfs else ""
            lines.append(
                f"{head}  produced  {entry['status']}  run {entry['run_id']}  {len(pdfs)} PDFs{where}"
            )
        elif entry["action"] == "planned":
            lines.append(f"{head}  would be produced (dry run)")
        else:
            lines.append(f"{head}  skipped: {entry['reason']}")
    if not result["periods"]:
        latest = result.get("up_to_date") or []
        lines.append(
            f"{kind}: nothing to produce"
            + (f"; latest period {latest[0][0]} is {latest[0][1]}" if latest else "")
        )
    if result.get("left"):
        left = result["left"]
        lines.append(f"{kind}: {left} more period(s) due: the next run (or --max-periods) takes them")
    return lines


def period_exit_code(result: dict[str, Any]) -> int:
    return 1 if any(p.get("status") == "error" for p in result["periods"]) else 0


def print_summary(result: dict[str, Any]) -> None:
    entries = result.get("runs") or [result]
    for entry in entries:
        out.print()
        out.print(shown(entry["summary_text"], multiline=True), highlight=False)
    failing = next((e for e in entries if e["status"] != "ok" and e.get("metrics", {}).get("issues")), None)
    if failing is not None:
        # The last line is what a terminal or a cron mail shows first: the status and its first reason.
        out.print(shown(f"{failing['status']}: {failing['metrics']['issues'][0]}"), highlight=False)


def exit_code(result: dict[str, Any]) -> int:
    return 1 if result["status"] == "error" else 0


@app.command("daily")
def daily(
    date_: ReportDate = None,
    stores: Annotated[str | None, typer.Option(help="only these ETL stores, comma-separated")] = None,
    dry_run: DryRun = False,
    date_from: Annotated[
        str | None, typer.Option("--from", help="first date of a range YYYY-MM-DD (oldest first)")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="last date of a range YYYY-MM-DD")] = None,
    email: Annotated[
        bool, typer.Option("--email", help="a report backfill (a date before T-1) sends its emails too")
    ] = False,
) -> None:
    """The daily job: download, ingest, audit, cleanup, PDFs, run summary, emails (exit 1 on error).

    A date before T-1 is a report backfill: PDFs and run summary from the stored data, no portal access,
    emails only with --email."""
    from crm_core.runs.daily import BACKFILL_NOTE, plan_daily_dates, preflight

    settings = settings_or_exit()
    report_date = parse_date(date_)
    first, last = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    subset = parse_stores(stores)
    plan = checked(plan_daily_dates, settings.current_report_date(), report_date, first, last)
    run_async(preflight(settings, subset, portal=plan.reads_portal))  # exit 2 before any browser or Prefect
    backfills = [day for day in plan.dates if plan.is_backfill(day)]
    if backfills:
        out.print(f"{', '.join(map(str, backfills))}: {BACKFILL_NOTE}", highlight=False)
    result = run_daily_flow(
        report_date, subset, dry_run, date_from=first, date_to=last, send_emails=True if email else None
    )
    print_summary(result)
    raise typer.Exit(exit_code(result))


PeriodOption = Annotated[int, typer.Option("--max-periods", min=1, help="produce at most N periods")]
Force = Annotated[bool, typer.Option("--force", help="redo the period even when already produced")]
PeriodDryRun = Annotated[
    bool, typer.Option("--dry-run", "--dry_run", help="list the periods due; write and send nothing")
]


def _period_command(kind: str, period: str | None, max_periods: int, force: bool, dry_run: bool) -> None:
    from crm_core.pipelines import MONTHLY, WEEKLY
    from crm_core.runs.period import preflight

    settings = settings_or_exit()
    # Before Prefect starts: a bad --period or no report store exits 2 at once.
    run_async(preflight(settings, WEEKLY if kind == "weekly" else MONTHLY, period))
    result = run_period_flow(kind, period, max_periods, force, dry_run)
    for line in period_lines(kind, result):
        out.print(shown(line), highlight=False)
    raise typer.Exit(period_exit_code(result))


@app.command("weekly")
def weekly(
    period: Annotated[
        str | None, typer.Option("--period", help="a date inside the week, YYYY-MM-DD (default: catch-up)")
    ] = None,
    max_periods: PeriodOption = 12,
    force: Force = False,
    dry_run: PeriodDryRun = False,
) -> None:
    """Weekly PDFs, run summary and emails for every complete week not produced yet (exit 1 on error)."""
    week = parse_date(period, "--period")
    _period_command("weekly", week.isoformat() if week else None, max_periods, force, dry_run)


@app.command("monthly")
def monthly(
    period: Annotated[
        str | None, typer.Option("--period", help="the month, YYYY-MM (default: catch-up)")
    ] = None,
    max_periods: PeriodOption = 12,
    force: Force = False,
    dry_run: PeriodDryRun = False,
) -> None:
    """Monthly PDFs, run summary and emails for every complete month not produced yet (exit 1 on error)."""
    _period_command("monthly", parse_month(period, "--period"), max_periods, force, dry_run)
