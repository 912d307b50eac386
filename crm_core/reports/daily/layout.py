"""The daily store PDF, composed from the shared sections.

Top to bottom: header, overall health, Primary KPIs, Secondary Indicators, Today's Operating Snapshot
(T-1 | T | Δ | Note), Recommendations, then the Undelivered Orders and Missed Leads action lists (each row
with a checkbox and a comment field the store fills in); every page has the footer and "Page N of M".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_core.reports.daily.data import DailyReportContext
from crm_core.reports.documents import report_pdf_path
from crm_core.reports.formatting import format_count, format_date, format_money, format_timestamp
from crm_core.reports.kpis import evaluate_kpis, overall_health, recommendations
from crm_core.reports.sections import (
    Column,
    health_card,
    health_footnote,
    kpi_table,
    missed_leads_list,
    notes_columns,
    report_header,
    snapshot_table,
    titled_table,
    undelivered_list,
)
from crm_core.reports.styles import PagedCanvas, render_two_pass

FOOTER_SENTENCE = "TSV Store Performance Report • Automated dashboard insights • {date}"


def daily_pdf_path(reports_dir: Path, store_code: str, report_date: date) -> Path:
    """`<REPORTS_DIR>/<YYYY>/daily/<STORE_CODE>_<YYYY-MM-DD>.pdf`."""
    return report_pdf_path(reports_dir, "daily", report_date, store_code, report_date.isoformat())


def render_daily_pdf(context: DailyReportContext, path: Path) -> Path:
    """Write the store's daily PDF to `path` (replacing an earlier one atomically) and return the path."""
    render_two_pass(
        lambda pc: draw_daily(pc, context),
        path,
        title=f"Store Daily Report - {context.store_name}",
        subject=f"Daily store performance report for {context.store_code}, {context.report_date.isoformat()}",
        footer_text=FOOTER_SENTENCE.format(date=context.report_date.isoformat()),
    )
    return path


def draw_daily(pc: PagedCanvas, ctx: DailyReportContext) -> None:
    kpis = evaluate_kpis(ctx.kpi_values)
    health = overall_health(kpis)
    report_header(
        pc,
        name=ctx.store_name,
        tagline=("STORE PERFORMANCE REPORT", "Daily report"),
        store_code=ctx.store_code,
        logo_path=ctx.logo_path,
        meta=(
            ("Report date", f"{ctx.report_date:%A}, {format_date(ctx.report_date)}"),
            ("Generated at", format_timestamp(ctx.generated_at, ZoneInfo(ctx.timezone))),
            ("Run ID", ctx.run_id),
        ),
    )
    health_card(pc, health, footnote=health_footnote(health, len(kpis)))
    kpi_table(pc, kpis)
    titled_table(
        pc,
        "Secondary Indicators",
        (Column("Metric", 0.60), Column("Value", 0.40, "right")),
        (
            ("FTD revenue", format_money(ctx.ftd_revenue)),
            ("High value orders (>₹800)", format_count(ctx.high_value_orders_count)),
            ("Undelivered snapshot today", format_count(ctx.undelivered_snapshot_count)),
        ),
    )
    if ctx.previous_date is not None:
        compared = f"T-1 = latest earlier dashboard ({format_date(ctx.previous_date)})"
    else:
        compared = "T-1 = no earlier dashboard data yet"
    snapshot_table(
        pc,
        "Today's Operating Snapshot",
        ctx.snapshot,
        caption=f"T = {format_date(ctx.report_date)}; {compared}. Leads compare pickup dates "
        f"{format_date(ctx.report_date)} and the day before.",
    )
    recs = recommendations(kpis)
    notes_columns(
        pc,
        "Recommendations",
        (
            ("Highlights", recs.highlights),
            ("Focus Areas", recs.focus_areas),
            ("Actions for Today", recs.actions),
        ),
    )
    undelivered_list(pc, ctx.undelivered_orders)
    missed_leads_list(pc, ctx.missed_leads)
