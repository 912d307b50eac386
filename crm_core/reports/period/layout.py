"""The weekly and monthly PDFs, composed from the shared sections in the daily report's visual language.

Top to bottom: header, overall health, metrics strip, KPIs over the period (average, best, worst, band),
volume and revenue against the previous period, a chart against the previous period, the day-by-day
(week) or week-by-week (month) table, highlights / risks / focus, then the backlog as of the period end as
static lists (no form fields). The `ALL` report adds a line per store and the stores without data, and
summarises the backlog per store. A store without data gets the header and a notice. Every page has the
footer and "Page N of M".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_core.periods import Period
from crm_core.reports.actions import total_net
from crm_core.reports.documents import period_pdf_path
from crm_core.reports.formatting import (
    MISSING,
    format_count,
    format_date,
    format_money,
    format_pct,
    format_timestamp,
)
from crm_core.reports.kpis import COLOURS, format_kpi
from crm_core.reports.period.data import (
    MTD_COUNTERS,
    CombinedPeriodReport,
    PeriodFigures,
    PeriodReport,
    StorePeriodReport,
    Volume,
)
from crm_core.reports.sections import (
    ChartPanel,
    ChartSeries,
    Column,
    Tile,
    comparison_charts,
    health_card,
    health_footnote,
    kpi_table,
    metrics_strip,
    missed_leads_list,
    notes_columns,
    notice,
    report_header,
    titled_table,
    undelivered_list,
)
from crm_core.reports.styles import PagedCanvas, colour, render_pdf

_TITLES = {"week": "Weekly", "month": "Monthly"}
NO_ORDER_DATA = (
    "Order data is missing: no undelivered orders export is stored for this store up to the end of the "
    "period, so the backlog is unknown (not zero)."
)
NO_LEAD_DATA = (
    "Lead data is missing: no missed leads export is stored for this store up to the end of the period, so "
    "the open leads are unknown (not zero)."
)
FOOTER_SENTENCE = "TSV {title} Store Performance Report • {period}"
NO_DATA_NOTICE = (
    "No dashboard data was found for this period. Please confirm the daily pipeline has ingested data for "
    "this store."
)
NO_STORE_DATA_NOTICE = "No dashboard data was found for any report store in this period."


def period_text(period: Period) -> str:
    """'Week: 2026-10-05 – 2026-10-11' or 'Month: October 2026'."""
    if period.kind == "month":
        return f"Month: {period.start:%B %Y}"
    return f"Week: {period.start.isoformat()} – {period.end.isoformat()}"


def period_report_path(reports_dir: Path, period: Period, store_code: str) -> Path:
    """`<REPORTS_DIR>/<YYYY>/weekly/<CODE>_week_<START>_to_<END>.pdf` or
    `<REPORTS_DIR>/<YYYY>/monthly/<CODE>_month_<YYYY-MM>.pdf` (YYYY of the period end)."""
    return period_pdf_path(reports_dir, period, store_code)


def render_period_pdf(report: PeriodReport, path: Path) -> Path:
    """Write the report's PDF to `path` (replacing an earlier one atomically) and return the path."""
    title = _TITLES[report.period.kind]
    render_pdf(
        lambda pc: draw_period(pc, report),
        path,
        title=f"Store {title} Report - {report.store_name}",
        subject=f"{title} store performance report for {report.store_code}, {report.period.label}",
        footer_text=FOOTER_SENTENCE.format(title=title, period=period_text(report.period)),
    )
    return path


def draw_period(pc: PagedCanvas, report: PeriodReport) -> None:
    period = report.period
    noun = period.kind
    title = _TITLES[noun]
    report_header(
        pc,
        name=report.store_name,
        tagline=("STORE PERFORMANCE REPORT", f"{title} report"),
        logo_path=report.logo_path,
        meta=(
            tuple(period_text(period).split(": ", 1)),  # type: ignore[arg-type]
            ("Generated at", format_timestamp(report.generated_at, ZoneInfo(report.timezone))),
            ("Run ID", report.run_id),
        ),
    )
    figures = report.figures
    if not report.has_data:
        notice(
            pc,
            NO_STORE_DATA_NOTICE if isinstance(report, CombinedPeriodReport) else NO_DATA_NOTICE,
            color=colour(COLOURS["critical"]),
            bold=True,
        )
        notice(pc, f"Dashboard snapshots: {figures.coverage}.")
        if isinstance(report, CombinedPeriodReport):
            notice(pc, f"Stores without data: {', '.join(report.stores_without_data)}.")
        return

    previous = report.previous
    health = figures.health
    health_card(pc, health, footnote=health_footnote(health, len(figures.kpis)))
    _strip(pc, figures, noun)
    _kpis(pc, figures, combined=isinstance(report, CombinedPeriodReport))
    _volume_table(pc, report, previous)
    _charts(pc, figures, previous)
    _breakdown(pc, figures)
    if isinstance(report, CombinedPeriodReport):
        _stores_table(pc, report)
    notes = report.notes
    notes_columns(
        pc,
        "Highlights, Risks and Focus",
        (
            ("Highlights", notes.highlights),
            ("Risk Areas", notes.risks),
            (f"Focus for Next {noun.title()}", notes.focus),
        ),
    )
    end = format_date(period.end)
    if isinstance(report, CombinedPeriodReport):
        _backlog_by_store(pc, report)
    else:
        undelivered_list(
            pc,
            report.undelivered_orders,
            title=f"Undelivered Backlog as of {end}",
            empty_text=(
                "No undelivered orders were pending at the end of the period."
                if report.orders_stored
                else NO_ORDER_DATA
            ),
            form_fields=False,
        )
        missed_leads_list(
            pc,
            report.missed_leads,
            title=f"Open Missed Leads as of {end}",
            empty_text=(
                "No open missed leads at the end of the period." if report.leads_stored else NO_LEAD_DATA
            ),
            form_fields=False,
        )


def _strip(pc: PagedCanvas, figures: PeriodFigures, noun: str) -> None:
    revenue = figures.revenue
    tiles = [
        Tile(
            "Revenue",
            format_money(revenue.total, decimals=0),
            f"{revenue.days_with_data} of {revenue.days} days",
        )
    ]
    for counter in MTD_COUNTERS:
        volume = figures.volumes[counter.key]
        tiles.append(Tile(counter.label, _volume_value(volume), _volume_sub(volume, noun)))
    metrics_strip(pc, tiles)


def _volume_value(volume: Volume) -> str:
    if volume.value is None:
        return MISSING
    return format_count(volume.value) if volume.exact else f"≥ {format_count(volume.value)}"


def _volume_sub(volume: Volume, noun: str) -> str:
    if volume.value is None:
        return "no data"
    if volume.exact:
        return f"this {noun}"
    return "lower bound"


def _volume_note(volume: Volume) -> str:
    parts = []
    if volume.incomplete_stores:
        parts.append(f"Incomplete data: {', '.join(volume.incomplete_stores)}.")
    elif volume.missing:
        shown = ", ".join(f"{day:%d %b}" for day in volume.missing[:6])
        more = ", …" if len(volume.missing) > 6 else ""
        parts.append(f"No figure for {shown}{more}.")
    for fix in volume.corrections[:3]:
        parts.append(f"Went down on {fix.day:%d %b} ({fix.previous} → {fix.current}).")
    return " ".join(parts)


def _volume_table(pc: PagedCanvas, report: PeriodReport, previous: PeriodFigures | None) -> None:
    figures, noun = report.figures, report.period.kind
    rows: list[Sequence[str]] = []
    for counter in MTD_COUNTERS:
        volume = figures.volumes[counter.key]
        before = previous.volumes[counter.key].display if previous is not None else MISSING
        rows.append((counter.label, volume.display, before, _volume_note(volume)))
    rows.append(
        (
            "Leads captured",
            format_count(report.leads_captured),
            format_count(report.leads_previous),
            "Missed-leads rows by pickup date.",
        )
    )
    revenue = figures.revenue
    before_rev = previous.revenue if previous is not None else None
    rows.append(
        (
            "Revenue (FTD total)",
            format_money(revenue.total),
            format_money(before_rev.total if before_rev else None),
            f"{revenue.days_with_data} of {revenue.days} days with a figure.",
        )
    )
    rows.append(
        (
            "Average revenue per day",
            format_money(revenue.average_per_day),
            format_money(before_rev.average_per_day if before_rev else None),
            "Over the days with a figure.",
        )
    )
    peak = revenue.peak
    before_peak = before_rev.peak if before_rev else None
    rows.append(
        (
            "Peak revenue day",
            format_money(peak[1]) if peak else MISSING,
            format_money(before_peak[1]) if before_peak else MISSING,
            f"{peak[0]:%a %d %b %Y}" if peak else "",
        )
    )
    titled_table(
        pc,
        "Volume and Revenue",
        (
            Column("Metric", 0.22),
            Column(f"This {noun}", 0.26, "right"),
            Column(f"Previous {noun}", 0.19, "right"),
            Column("Note", 0.33),
        ),
        rows,
        caption=(
            f"{figures.coverage}. Volumes are the growth of the dashboard's month-to-date counters inside "
            f"the {noun}, month by month; ≥ marks a lower bound (a day without a snapshot)."
        ),
    )


def _kpis(pc: PagedCanvas, figures: PeriodFigures, *, combined: bool) -> None:
    def extreme(which: str) -> list[str]:
        cells = []
        for kpi in figures.kpis:
            value = kpi.best if which == "best" else kpi.worst
            cells.append(f"{format_kpi(kpi.result.spec, value[1])} ({value[0]})" if value else MISSING)
        return cells

    unit = "store" if combined else "day"
    kpi_table(
        pc,
        figures.kpi_results,
        title="KPIs over the Period",
        value_header="Average",
        extra=(
            (Column(f"Best {unit}", 0.18, "right"), extreme("best")),
            (Column(f"Worst {unit}", 0.18, "right"), extreme("worst")),
        ),
        column_widths=(0.29, 0.11, 0.24),
    )


def _charts(pc: PagedCanvas, figures: PeriodFigures, previous: PeriodFigures | None) -> None:
    noun = figures.period.kind
    weekly = noun == "week"
    labels = [row.label.split(" (")[0] if not weekly else row.label[:3] for row in figures.rows]

    def revenue(f: PeriodFigures) -> list[float | None]:
        return [float(r.revenue) if r.revenue is not None else None for r in f.rows]

    def pickups(f: PeriodFigures) -> list[float | None]:
        return [float(r.pickups.value) if r.pickups.value is not None else None for r in f.rows]

    def series(values: list[float | None], before: list[float | None] | None) -> list[ChartSeries]:
        result = [ChartSeries(f"This {noun}", values, "#1f3a93")]
        if before is not None:
            # Position by position (a month's first week against the previous month's first week); a
            # previous month with fewer weeks leaves the last category without a comparison.
            aligned = (before + [None] * len(values))[: len(values)]
            result.append(ChartSeries(f"Previous {noun}", aligned, "#a5b4d8"))
        return result

    per = "day" if weekly else "week"
    comparison_charts(
        pc,
        f"Revenue and Pickups by {per.title()}",
        labels,
        (
            ChartPanel(
                f"Revenue per {per} (₹)", series(revenue(figures), revenue(previous) if previous else None)
            ),
            ChartPanel(
                f"Pickups per {per}",
                series(pickups(figures), pickups(previous) if previous else None),
                "line",
            ),
        ),
        caption=None if previous else f"No data stored for the previous {noun}: no comparison line.",
    )


def _row_volume(volume: Volume, single_day: bool) -> str:
    """A day's growth needs that day's and the day before's snapshot, so a day's lower bound says nothing
    (N/A); a week's lower bound is still worth showing ("≥ 29")."""
    if volume.value is None or (single_day and not volume.exact):
        return MISSING
    return _volume_value(volume)


def _breakdown(pc: PagedCanvas, figures: PeriodFigures) -> None:
    weekly = figures.period.kind == "week"
    rows = [
        (
            row.label,
            format_money(row.revenue),
            _row_volume(row.pickups, weekly),
            _row_volume(row.deliveries, weekly),
            format_pct(row.conversion),
            format_pct(row.tat),
        )
        for row in figures.rows
    ]
    caption = (
        "Pickups and deliveries are the day's growth of the month-to-date counters (N/A without the "
        "day's and the day before's snapshot)."
        if weekly
        else "Weeks are ISO weeks cut at the month's edges; ≥ marks a lower bound (a day without a "
        "snapshot); conversion and TAT are means of the daily figures."
    )
    titled_table(
        pc,
        "Day by Day" if weekly else "Week by Week",
        (
            Column("Day" if weekly else "Week", 0.26),
            Column("Revenue", 0.20, "right"),
            Column("Pickups", 0.12, "right"),
            Column("Deliveries", 0.14, "right"),
            Column("Conversion" if weekly else "Avg conversion", 0.14, "right"),
            Column("TAT" if weekly else "Avg TAT", 0.14, "right"),
        ),
        rows,
        caption=caption,
    )


def _stores_table(pc: PagedCanvas, report: CombinedPeriodReport) -> None:
    rows = []
    for store in report.stores:
        f = store.figures
        if not f.has_data:
            rows.append((store.store_code, store.store_name, "0", MISSING, MISSING, MISSING, "No data"))
            continue
        rows.append(
            (
                store.store_code,
                store.store_name,
                str(len(f.days_with_data)),
                format_money(f.revenue.total, decimals=0),
                f.volumes["pickups"].display.split(" (")[0],
                f.volumes["deliveries"].display.split(" (")[0],
                f"{f.health.score} {f.health.label}",
            )
        )
    without = report.stores_without_data
    titled_table(
        pc,
        "Stores",
        (
            Column("Code", 0.10),
            Column("Store", 0.26),
            Column("Days", 0.08, "right"),
            Column("Revenue", 0.16, "right"),
            Column("Pickups", 0.11, "right"),
            Column("Deliveries", 0.12, "right"),
            Column("Health", 0.17),
        ),
        rows,
        caption=f"Stores without data: {', '.join(without)}." if without else "Every store has data.",
    )


def _backlog_by_store(pc: PagedCanvas, report: CombinedPeriodReport) -> None:
    rows = []
    for store in report.stores:
        orders = store.undelivered_orders
        rows.append(
            (
                store.store_code,
                format_count(len(orders)) if store.orders_stored else MISSING,
                format_count(store.overdue_orders) if store.orders_stored else MISSING,
                format_money(total_net(orders)) if store.orders_stored else MISSING,
                format_count(len(store.missed_leads)) if store.leads_stored else MISSING,
            )
        )
    rows.append(
        (
            "Total",
            format_count(sum(len(s.undelivered_orders) for s in report.stores)),
            format_count(report.overdue_orders),
            format_money(report.undelivered_total_net),
            format_count(sum(len(s.missed_leads) for s in report.stores)),
        )
    )
    titled_table(
        pc,
        f"Backlog as of {format_date(report.period.end)}",
        (
            Column("Store", 0.20),
            Column("Undelivered", 0.18, "right"),
            Column("> 10 days", 0.16, "right"),
            Column("Net amount", 0.24, "right"),
            Column("Open missed leads", 0.22, "right"),
        ),
        rows,
        caption=(
            f"Each store's own PDF lists its orders and leads; {MISSING} = no such data stored for the store."
        ),
    )


__all__ = [
    "FOOTER_SENTENCE",
    "NO_DATA_NOTICE",
    "StorePeriodReport",
    "draw_period",
    "period_report_path",
    "period_text",
    "render_period_pdf",
]
