"""The daily store PDF, composed from the shared sections.

Top to bottom: header, overall health, Primary KPIs, Secondary Indicators, Today's Operating Snapshot
(T-1 | T | Δ | Note), Recommendations, then the Undelivered Orders and Missed Leads action lists (each row
with a checkbox and a comment field the store fills in); every page has the footer and "Page N of M".
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_core.reports.daily.data import DailyReportContext
from crm_core.reports.documents import report_pdf_path
from crm_core.reports.formatting import format_count, format_date, format_money, format_timestamp
from crm_core.reports.kpis import evaluate_kpis, overall_health, recommendations
from crm_core.reports.sections import (
    OVERDUE_DAYS,
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
from crm_core.reports.styles import PagedCanvas, render_pdf

FOOTER_SENTENCE = "TSV Store Performance Report • Automated dashboard insights • {date}"


def daily_pdf_path(reports_dir: Path, store_code: str, report_date: date) -> Path:
    """`<REPORTS_DIR>/<YYYY>/daily/<STORE_CODE>_<YYYY-MM-DD>.pdf`."""
    return report_pdf_path(reports_dir, "daily", report_date, store_code, report_date.isoformat())


def undelivered_caption(ctx: DailyReportContext) -> str:
    """The two undelivered figures come from different sources and need not agree: say which is which."""
    late = sum(1 for o in ctx.undelivered_orders if o.age_days is not None and o.age_days > OVERDUE_DAYS)
    dashboard = ctx.kpi_values.get("undelivered_10_plus_count")
    total = ctx.kpi_values.get("undelivered_total_count")
    return (
        f"This list is the undelivered orders export as it stood on {format_date(ctx.report_date)} (orders "
        f"placed by then and not delivered by then); age = days since the committed delivery date "
        f"({format_count(late)} more than {OVERDUE_DAYS} days late). "
        f'The "Undelivered >10 days" KPI ({format_count(dashboard)}) is the portal dashboard\'s own figure '
        f'and may count differently, as may its "Total undelivered orders" ({format_count(total)}).'
    )


def render_daily_pdf(context: DailyReportContext, path: Path) -> Path:
    """Write the store's daily PDF to `path` (replacing an earlier one atomically) and return the path."""
    render_pdf(
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
    # Leads always have a T-1 (the day before's pickups); only the dashboard counters need an earlier
    # dashboard, so the caption says which rows lack one rather than that there is no earlier data at all.
    if ctx.previous_date is not None:
        counters = f"counters: T-1 = latest earlier dashboard ({format_date(ctx.previous_date)})"
    else:
        counters = "counters: no earlier dashboard to compare with yet (T-1 shown as N/A)"
    snapshot_table(
        pc,
        "Today's Operating Snapshot",
        ctx.snapshot,
        caption=f"T = {format_date(ctx.report_date)}. Leads compare pickup dates "
        f"{format_date(ctx.report_date - timedelta(days=1))} (T-1) and {format_date(ctx.report_date)} (T); "
        f"{counters}.",
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
    undelivered_list(pc, ctx.undelivered_orders, caption=undelivered_caption(ctx))
    missed_leads_list(pc, ctx.missed_leads)
