"""`crm demo`: the whole daily job on embedded defaults (portal simulator, SQLite, the file outbox), then
the weekly and monthly catch-up over a few weeks of seeded demo dashboard history."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import typer

from crm_core.cli.run import (
    exit_code,
    period_exit_code,
    period_lines,
    print_summary,
    run_daily_flow,
    run_period_flow,
)
from crm_core.cli.support import ReportDate, console, out, parse_date, run_async, settings_or_exit, shown

# Under CRM_HOME; .env.example suggests the same file, so following either gives one event log.
DEMO_EVENTS_FILE = Path("logs") / "events.ndjson"


def demo(date_: ReportDate = None) -> None:
    """The whole daily job on embedded defaults: portal simulator, SQLite and the file outbox; then the
    weekly and monthly reports of the seeded demo history."""
    from crm_core.demo import prepare_demo_database
    from crm_core.fsutil import private_dir, tighten_home
    from crm_core.periods import daily_report_date
    from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
    from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
    from crm_core.portal.session import require_chromium

    settings = settings_or_exit()
    day = parse_date(date_) or daily_report_date(zone=settings.zone)
    run_async(require_chromium(settings))  # before the database, the simulator and Prefect
    os.environ.setdefault("JSON_LOG_FILE", str(settings.home / DEMO_EVENTS_FILE))
    tighten_home(settings.home)
    private_dir(Path(os.environ["JSON_LOG_FILE"]).parent)
    added = run_async(prepare_demo_database(settings, history_before=day))
    out.print(shown(f"database  {settings.db_url_redacted}"), highlight=False)
    for line in added:
        out.print(shown(f"seeded    {line}"), highlight=False)
    with SandboxServer(SandboxConfig(dashboard_date=day)) as sim:
        out.print(f"simulator portal {sim.portal_origin}  TMS {sim.tms_origin}  (dashboard date {day})")
        # The demo always talks to its own simulator, whatever PORTAL_* says; the simulator's portal is
        # frozen at `day`, so that day is the current report date (else a past --date would be a backfill).
        os.environ.update(
            CRM_TODAY=(day + timedelta(days=1)).isoformat(),
            PORTAL_BASE_URL=sim.portal_origin,
            PORTAL_TMS_URL=sim.tms_origin,
            PORTAL_USERNAME=DEMO_USERNAME,
            PORTAL_PASSWORD=DEMO_PASSWORD,
        )
        result = run_daily_flow(day, None, dry_run=False)
    settings = settings_or_exit()
    print_summary(result)
    pdfs = [record["file_path"] for record in result["metrics"]["pdf"]["records"]]
    out.print("\n[bold]Where to look[/]")
    for pdf in pdfs:
        out.print(shown(f"  PDF     {pdf}"), highlight=False)
    email = result["metrics"]["email"]
    where = settings.outbox_path if email.get("transport") == "outbox" else f"SMTP {settings.smtp_host}"
    out.print(shown(f"  emails  {email.get('message', email.get('status'))} → {where}"), highlight=False)
    out.print(shown(f"  events  {os.environ['JSON_LOG_FILE']}"), highlight=False)
    out.print(shown(f"  data    {settings.db_url_redacted}"), highlight=False)
    if result["status"] != "ok":
        console.print(f"demo run finished with status {result['status']}")

    out.print("\n[bold]Weekly and monthly reports[/] (of the demo dashboard history)")
    codes = [exit_code(result)]
    for kind, periods in demo_periods(day).items():
        # Each complete period of the history by name: a catch-up would run up to today's clock, which
        # for a past --date means periods with no data at all.
        for period in periods:
            period_result = run_period_flow(kind, period, 1, force=False, dry_run=False)
            for line in period_lines(kind, period_result):
                out.print(shown(f"  {line}"), highlight=False)
            codes.append(period_exit_code(period_result))
    raise typer.Exit(max(codes))


def demo_periods(day: date) -> dict[str, list[str]]:
    """The complete weeks and months of the seeded history, as `--period` values, oldest first."""
    from crm_core.demo import DEMO_HISTORY_DAYS
    from crm_core.periods import PeriodKind, complete_periods_between, period_containing

    first = day - timedelta(days=DEMO_HISTORY_DAYS)
    result: dict[str, list[str]] = {}
    kinds: tuple[tuple[str, PeriodKind], ...] = (("weekly", "week"), ("monthly", "month"))
    for kind, period_kind in kinds:
        last = period_containing(day + timedelta(days=1), period_kind)  # the period the date ends or is in
        last = period_containing(last.start - timedelta(days=1), period_kind)
        periods = list(complete_periods_between(first, last))
        result[kind] = [p.start.isoformat() if kind == "weekly" else p.label for p in periods]
    return result
