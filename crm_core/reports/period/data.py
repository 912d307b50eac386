"""Everything a weekly or monthly PDF shows, computed from the stored daily dashboard snapshots.

Pure functions turn one store's snapshots into the period's figures (`period_figures`), the figures of
several stores into the combined `ALL` view (`combine_figures`), and figures into highlights and risks
(`period_notes`); `load_store_period` is the one loader. Nothing here reads the portal.

Pickup, delivery and customer counts on the dashboard are month-to-date counters, so a period's volume is
the counter's growth inside the period, month by month (`counter_volume`), never a sum of snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.dashboard import METRIC_NAMES
from crm_core.db.models import INGEST_TABLES, store_dashboard_summary
from crm_core.db.stores import find_store
from crm_core.periods import Period, month_of, period_containing, week_of
from crm_core.reports.actions import (
    MissedLead,
    UndeliveredOrder,
    has_rows_until,
    load_open_missed_leads,
    load_undelivered,
    total_net,
)
from crm_core.reports.formatting import Number, format_count, to_decimal
from crm_core.reports.kpis import (
    PERIOD_RECOMMENDATIONS,
    PERIOD_WORDING,
    PRIMARY_KPIS,
    Health,
    KpiResult,
    Recommendations,
    average,
    evaluate_kpi,
    kpi_values_from_dashboard,
    overall_health,
    recommendations,
    summarise_kpi,
)

Values = Mapping[str, Decimal | int | None]
Snapshots = Mapping[date, Values]  # one store's dashboard figures per day


@dataclass(frozen=True)
class Counter:
    key: str
    label: str
    column: str  # the month-to-date column of `store_dashboard_summary`


# The four month-to-date counters a period's volume is read from (see docs/domain.md for the choice).
MTD_COUNTERS: tuple[Counter, ...] = (
    Counter("pickups", "Pickups", "pickup_total_count"),
    Counter("deliveries", "Deliveries", "delivery_total_delivered"),
    Counter("new_customers", "New customers", "pickup_new_count"),
    Counter("repeat_customers", "Repeat customers", "repeat_orders"),
)
REVENUE_COLUMN = "ftd_revenue"  # the dashboard day's revenue ("for the day")
CONVERSION_COLUMN = "pickup_total_conv_pct"
TAT_COLUMN = "delivery_tat_pct"


def short_day(day: date) -> str:
    """'Mon 05 Oct'."""
    return day.strftime("%a %d %b")


# --- month-to-date counters ------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """A counter that went down from one snapshot to the next within a month (a vendor correction)."""

    day: date
    previous: int
    current: int


@dataclass(frozen=True)
class Volume:
    """A counter's growth over a span of days.

    `value` is None when no day of the span has the counter. It is exact only when every day it depends on
    has a snapshot; otherwise it is a lower bound and `missing` lists the days without one (the day before
    the span included when it was needed). `days` counts the span's days, `store_days` how many stores'
    spans were added up (1 for one store).
    """

    value: int | None
    exact: bool
    days_with_data: int
    days: int
    missing: tuple[date, ...] = ()
    corrections: tuple[Correction, ...] = ()
    incomplete_stores: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """'93', '≥ 93 (6 of 7 days)', 'N/A'."""
        if self.value is None:
            return format_count(None)
        text = format_count(self.value)
        if self.exact:
            return text
        if self.incomplete_stores:
            return f"≥ {text}"  # the stores with gaps are named beside it
        if self.days_with_data < self.days:
            return f"≥ {text} ({self.days_with_data} of {self.days} days)"
        return f"≥ {text} (day before missing)"


def month_parts(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] cut at month boundaries: a week from 28 Sep to 4 Oct gives two parts."""
    parts = []
    part_start = start
    while part_start <= end:
        part_end = min(end, month_of(part_start).end)
        parts.append((part_start, part_end))
        part_start = part_end + timedelta(days=1)
    return parts


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def counter_volume(series: Mapping[date, Number | None], start: date, end: date) -> Volume:
    """The growth of a month-to-date counter over [start, end].

    Per month m the span touches: the counter on the last day of m inside the span that has it, minus the
    counter on the day before the span's part of m when that day is still in m (else 0: the counter
    restarted on the 1st). Without that day's figure, the growth since the part's first snapshot is used:
    a lower bound. A decrease is a vendor correction: it is listed, and a month never adds negative volume.
    """
    values = {day: int(dec) for day, raw in series.items() if (dec := to_decimal(raw)) is not None}
    total, seen = 0, False
    missing: list[date] = []
    corrections: list[Correction] = []
    for part_start, part_end in month_parts(start, end):
        part_days = _days(part_start, part_end)
        base_day = part_start - timedelta(days=1)
        needs_base = part_start.day != 1
        required = ([base_day] if needs_base else []) + part_days
        missing += [day for day in required if day not in values]
        known = [day for day in required if day in values]
        corrections += [
            Correction(later, values[earlier], values[later])
            for earlier, later in pairwise(known)
            if values[later] < values[earlier]
        ]
        present = [day for day in part_days if day in values]
        if not present:
            continue
        seen = True
        if not needs_base:
            base = 0
        elif base_day in values:
            base = values[base_day]
        else:
            base = values[present[0]]
        total += max(values[present[-1]] - base, 0)
    days = _days(start, end)
    return Volume(
        value=total if seen else None,
        exact=seen and not missing,
        days_with_data=sum(1 for day in days if day in values),
        days=len(days),
        missing=tuple(missing),
        corrections=tuple(corrections),
    )


def sum_volumes(volumes: Mapping[str, Volume]) -> Volume:
    """Several stores' volumes of one counter added up (keyed by store code). The sum is exact only when
    every volume is: a store without the figure adds nothing and makes it a lower bound."""
    present = [v for v in volumes.values() if v.value is not None]
    if not present:
        return Volume(None, False, 0, 0)
    return Volume(
        value=sum(v.value or 0 for v in present),
        exact=all(v.exact for v in volumes.values()),
        days_with_data=sum(v.days_with_data for v in volumes.values()),
        days=sum(v.days for v in volumes.values()),
        corrections=tuple(c for v in present for c in v.corrections),
        incomplete_stores=tuple(code for code, v in volumes.items() if not v.exact),
    )


# --- revenue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revenue:
    """Revenue over a period from the daily FTD figures: the average is over the days with a figure."""

    total: Decimal | None
    average_per_day: Decimal | None
    peak: tuple[date, Decimal] | None
    days_with_data: int
    days: int


def revenue_summary(daily: Mapping[date, Number | None], days: Sequence[date]) -> Revenue:
    known = [(day, dec) for day in days if (dec := to_decimal(daily.get(day))) is not None]
    if not known:
        return Revenue(None, None, None, 0, len(days))
    total = sum((value for _, value in known), Decimal(0))
    # The earlier day wins a tie.
    peak = max(known, key=lambda item: (item[1], -item[0].toordinal()))
    return Revenue(total, total / len(known), peak, len(known), len(days))


# --- KPIs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiSummary:
    """A KPI over the period: the band of its average, and its best and worst (a day for one store, a
    store for the combined view) with their values."""

    result: KpiResult
    best: tuple[str, Decimal] | None
    worst: tuple[str, Decimal] | None


def kpi_summaries(snapshots: Snapshots, days: Sequence[date]) -> tuple[KpiSummary, ...]:
    """The seven KPIs over `days`, each day's value read as the daily report reads it."""
    daily = {day: kpi_values_from_dashboard(snapshots[day]) for day in days if day in snapshots}
    summaries = []
    for spec in PRIMARY_KPIS:
        period = summarise_kpi(spec.key, {day: values[spec.key] for day, values in daily.items()})
        summaries.append(
            KpiSummary(
                period.result,
                (f"{period.best[0]:%d %b}", period.best[1]) if period.best else None,
                (f"{period.worst[0]:%d %b}", period.worst[1]) if period.worst else None,
            )
        )
    return tuple(summaries)


def combine_kpis(stores: Mapping[str, Sequence[KpiSummary]]) -> tuple[KpiSummary, ...]:
    """Per KPI, the mean of the stores' period averages (stores without one left out); best and worst are
    stores. A tie goes to the store listed first."""
    combined = []
    for index, spec in enumerate(PRIMARY_KPIS):
        known = [
            (code, value) for code, kpis in stores.items() if (value := kpis[index].result.value) is not None
        ]
        result = evaluate_kpi(spec.key, average([value for _, value in known]))
        if not known:
            combined.append(KpiSummary(result, None, None))
            continue
        sign = 1 if spec.higher_is_better else -1
        order = {code: i for i, (code, _) in enumerate(known)}
        best = max(known, key=lambda item: (sign * item[1], -order[item[0]]))
        worst = min(known, key=lambda item: (sign * item[1], order[item[0]]))
        combined.append(KpiSummary(result, best, worst))
    return tuple(combined)


# --- breakdown rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    """One day of a week or one ISO week of a month (cut at the month's edges)."""

    label: str
    start: date
    end: date
    revenue: Decimal | None
    pickups: Volume
    deliveries: Volume
    conversion: Decimal | None  # mean of the daily total-conversion %
    tat: Decimal | None  # mean of the daily within-TAT %
    days_with_data: int


def breakdown_spans(period: Period) -> list[tuple[str, date, date]]:
    """A week's days, or the ISO weeks of a month ("Wk 40 (28 Sep–04 Oct)" cut to the month)."""
    if period.kind != "month":
        return [(short_day(day), day, day) for day in period.days]
    spans = []
    start = period.start
    while start <= period.end:
        end = min(week_of(start).end, period.end)
        week = start.isocalendar().week
        spans.append((f"Wk {week} ({start:%d %b}–{end:%d %b})", start, end))
        start = end + timedelta(days=1)
    return spans


def _column(snapshots: Snapshots, column: str) -> dict[date, Decimal | int | None]:
    return {day: values.get(column) for day, values in snapshots.items()}


def breakdown_rows(snapshots: Snapshots, period: Period) -> tuple[BreakdownRow, ...]:
    revenue = _column(snapshots, REVENUE_COLUMN)
    pickups = _column(snapshots, "pickup_total_count")
    deliveries = _column(snapshots, "delivery_total_delivered")
    rows = []
    for label, start, end in breakdown_spans(period):
        days = [day for day in _days(start, end) if day in snapshots]
        rows.append(
            BreakdownRow(
                label=label,
                start=start,
                end=end,
                revenue=revenue_summary(revenue, _days(start, end)).total,
                pickups=counter_volume(pickups, start, end),
                deliveries=counter_volume(deliveries, start, end),
                conversion=average([snapshots[day].get(CONVERSION_COLUMN) for day in days]),
                tat=average([snapshots[day].get(TAT_COLUMN) for day in days]),
                days_with_data=len(days),
            )
        )
    return tuple(rows)


def combine_rows(stores: Sequence[Sequence[BreakdownRow]]) -> tuple[BreakdownRow, ...]:
    """The stores' rows added up position by position: sums of revenue and volumes, means of the
    percentages over the stores with a figure."""
    if not stores:
        return ()
    combined = []
    for index, first in enumerate(stores[0]):
        rows = [store_rows[index] for store_rows in stores]
        revenues = [r.revenue for r in rows if r.revenue is not None]
        combined.append(
            BreakdownRow(
                label=first.label,
                start=first.start,
                end=first.end,
                revenue=sum(revenues, Decimal(0)) if revenues else None,
                pickups=sum_volumes({str(i): r.pickups for i, r in enumerate(rows)}),
                deliveries=sum_volumes({str(i): r.deliveries for i, r in enumerate(rows)}),
                conversion=average([r.conversion for r in rows]),
                tat=average([r.tat for r in rows]),
                days_with_data=max(r.days_with_data for r in rows),
            )
        )
    return tuple(combined)


# --- a period's figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigures:
    """One store's (or the combined) figures over one period."""

    period: Period
    days_with_data: tuple[date, ...]  # the period's days with a dashboard snapshot
    volumes: Mapping[str, Volume]  # keyed by `Counter.key`, in `MTD_COUNTERS` order
    revenue: Revenue
    daily_revenue: Mapping[date, Decimal | None]
    kpis: tuple[KpiSummary, ...]
    rows: tuple[BreakdownRow, ...]

    @property
    def has_data(self) -> bool:
        return bool(self.days_with_data)

    @property
    def missing_days(self) -> tuple[date, ...]:
        present = set(self.days_with_data)
        return tuple(day for day in self.period.days if day not in present)

    @property
    def coverage(self) -> str:
        """'6 of 7 days ingested'."""
        return f"{len(self.days_with_data)} of {len(self.period.days)} days ingested"

    @property
    def kpi_results(self) -> list[KpiResult]:
        return [kpi.result for kpi in self.kpis]

    @property
    def health(self) -> Health:
        return overall_health(self.kpi_results, wording=PERIOD_WORDING)

    @property
    def corrections(self) -> list[tuple[str, Correction]]:
        return [(c.label, fix) for c in MTD_COUNTERS for fix in self.volumes[c.key].corrections]


def period_figures(snapshots: Snapshots, period: Period) -> PeriodFigures:
    """The period's figures from one store's snapshots (days outside the period are used only as the day
    before a month-to-date counter's span)."""
    days = period.days
    revenue = {day: to_decimal(snapshots[day].get(REVENUE_COLUMN)) for day in days if day in snapshots}
    return PeriodFigures(
        period=period,
        days_with_data=tuple(day for day in days if day in snapshots),
        volumes={
            c.key: counter_volume(_column(snapshots, c.column), period.start, period.end)
            for c in MTD_COUNTERS
        },
        revenue=revenue_summary(revenue, days),
        daily_revenue=revenue,
        kpis=kpi_summaries(snapshots, days),
        rows=breakdown_rows(snapshots, period),
    )


def combine_figures(stores: Mapping[str, PeriodFigures], period: Period) -> PeriodFigures:
    """The combined view of the stores with data: volumes and revenue added up, KPI averages averaged."""
    with_data = {code: figures for code, figures in stores.items() if figures.has_data}
    daily: dict[date, Decimal | None] = {}
    for day in period.days:
        known = [rev for f in with_data.values() if (rev := f.daily_revenue.get(day)) is not None]
        daily[day] = sum(known, Decimal(0)) if known else None
    days_with_data = sorted({day for f in with_data.values() for day in f.days_with_data})
    return PeriodFigures(
        period=period,
        days_with_data=tuple(days_with_data),
        volumes={
            c.key: sum_volumes({code: f.volumes[c.key] for code, f in with_data.items()})
            for c in MTD_COUNTERS
        },
        revenue=revenue_summary({d: v for d, v in daily.items() if v is not None}, period.days),
        daily_revenue={d: v for d, v in daily.items() if v is not None},
        kpis=combine_kpis({code: f.kpis for code, f in with_data.items()}),
        rows=combine_rows([f.rows for f in with_data.values()]),
    )


def previous_period(period: Period) -> Period:
    return period_containing(period.start - timedelta(days=1), period.kind)


# --- highlights, risks, focus ----------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodNotes:
    highlights: list[str]
    risks: list[str]
    focus: list[str]


def _change(current: Volume, previous: Volume | None) -> int | None:
    """The change against the previous period, only between two exact figures."""
    if previous is None or not (current.exact and previous.exact):
        return None
    if current.value is None or previous.value is None:
        return None
    return current.value - previous.value


def period_notes(
    figures: PeriodFigures,
    previous: PeriodFigures | None,
    *,
    overdue_orders: int,
    noun: str,
) -> PeriodNotes:
    """The KPI rules (period wording) plus rules on volumes, revenue, data gaps and counter corrections.
    `noun` is "week" or "month"."""
    recs: Recommendations = recommendations(figures.kpi_results, PERIOD_RECOMMENDATIONS)
    highlights = list(recs.highlights)
    risks = list(recs.focus_areas)
    focus = list(recs.actions)
    extra_highlights: list[str] = []
    extra_risks: list[str] = []
    if previous is not None and previous.has_data:
        pickups = _change(figures.volumes["pickups"], previous.volumes["pickups"])
        if pickups is not None and pickups > 0:
            extra_highlights.append(
                f"Pickups grew by {format_count(pickups)} compared with the previous {noun}."
            )
        elif pickups is not None and pickups < 0:
            extra_risks.append(f"Pickups fell by {format_count(-pickups)} compared with the previous {noun}.")
        now, before = figures.revenue, previous.revenue
        if now.average_per_day is not None and before.average_per_day:
            change = (now.average_per_day - before.average_per_day) / before.average_per_day * 100
            if change >= 5:
                extra_highlights.append(f"Average daily revenue rose {change:.0f}% on the previous {noun}.")
            elif change <= -5:
                extra_risks.append(
                    f"Average daily revenue fell {-change:.0f}% compared with the previous {noun}."
                )
    if overdue_orders:
        extra_risks.append(
            f"{format_count(overdue_orders)} undelivered order{'s are' if overdue_orders != 1 else ' is'} "
            f"more than 10 days past the committed date at the end of the {noun}."
        )
    if figures.missing_days:
        extra_risks.append(
            f"Dashboard data is missing for {len(figures.missing_days)} day(s) "
            f"({', '.join(f'{d:%d %b}' for d in figures.missing_days[:7])}"
            f"{', …' if len(figures.missing_days) > 7 else ''}): volumes are lower bounds."
        )
        focus.append("Check that the daily pipeline runs every day, so period volumes are exact.")
    for label, fix in figures.corrections:
        extra_risks.append(
            f"The {label.lower()} counter went down on {fix.day:%d %b} ({fix.previous} → {fix.current}): "
            "a vendor correction, not counted as negative volume."
        )
    if extra_highlights and highlights == [PERIOD_RECOMMENDATIONS.default_highlight]:
        highlights = []
    if extra_risks and risks == [PERIOD_RECOMMENDATIONS.default_focus]:
        risks = []
    return PeriodNotes(highlights + extra_highlights, risks + extra_risks, focus)


# --- the report contexts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StorePeriodReport:
    """One store's period report."""

    store_code: str
    store_name: str
    period: Period
    run_id: str
    generated_at: datetime
    figures: PeriodFigures
    previous: PeriodFigures | None  # None when the previous period has no snapshot stored
    leads_captured: int  # missed-leads rows whose pickup date is in the period
    leads_previous: int  # the same in the previous period
    undelivered_orders: tuple[UndeliveredOrder, ...]
    missed_leads: tuple[MissedLead, ...]
    timezone: str = "Asia/Kolkata"
    logo_path: Path | None = None
    # False when no order / lead row of the store is stored up to the period end: an empty list then means
    # missing data, not an empty backlog.
    orders_stored: bool = True
    leads_stored: bool = True

    @property
    def has_data(self) -> bool:
        return self.figures.has_data

    @property
    def overdue_orders(self) -> int:
        return sum(1 for o in self.undelivered_orders if o.age_days is not None and o.age_days > 10)

    @property
    def notes(self) -> PeriodNotes:
        return period_notes(
            self.figures, self.previous, overdue_orders=self.overdue_orders, noun=self.period.kind
        )


@dataclass(frozen=True)
class CombinedPeriodReport:
    """The `ALL` report: every report store's figures combined, plus each store's own line."""

    period: Period
    run_id: str
    generated_at: datetime
    stores: tuple[StorePeriodReport, ...]
    timezone: str = "Asia/Kolkata"
    logo_path: Path | None = None
    store_code: str = "ALL"
    store_name: str = "All stores"

    @cached_property
    def figures(self) -> PeriodFigures:
        return combine_figures({s.store_code: s.figures for s in self.stores}, self.period)

    @cached_property
    def previous(self) -> PeriodFigures | None:
        stored = {s.store_code: s.previous for s in self.stores if s.previous is not None}
        if not stored:
            return None
        return combine_figures(stored, previous_period(self.period))

    @property
    def has_data(self) -> bool:
        return any(s.has_data for s in self.stores)

    @property
    def stores_with_data(self) -> list[str]:
        return [s.store_code for s in self.stores if s.has_data]

    @property
    def stores_without_data(self) -> list[str]:
        return [s.store_code for s in self.stores if not s.has_data]

    @property
    def leads_captured(self) -> int:
        return sum(s.leads_captured for s in self.stores)

    @property
    def leads_previous(self) -> int:
        return sum(s.leads_previous for s in self.stores)

    @property
    def overdue_orders(self) -> int:
        return sum(s.overdue_orders for s in self.stores)

    @property
    def undelivered_total_net(self) -> Decimal:
        return sum((total_net(s.undelivered_orders) for s in self.stores), Decimal(0))

    @property
    def notes(self) -> PeriodNotes:
        notes = period_notes(
            self.figures, self.previous, overdue_orders=self.overdue_orders, noun=self.period.kind
        )
        if self.stores_without_data:
            notes.risks.append(
                f"No dashboard data for {len(self.stores_without_data)} store(s): "
                f"{', '.join(self.stores_without_data)}."
            )
        return notes


PeriodReport = StorePeriodReport | CombinedPeriodReport


# --- the loader ------------------------------------------------------------------------------------


async def load_snapshots(session: AsyncSession, store_id: int, start: date, end: date) -> dict[date, Values]:
    """The store's dashboard figures per day in [start, end]; of two rows for a day, the later run."""
    summary = store_dashboard_summary.c
    rows = (
        await session.execute(
            select(summary.dashboard_date, *(summary[name] for name in METRIC_NAMES))
            .where(summary.store_id == store_id, summary.dashboard_date.between(start, end))
            .order_by(summary.dashboard_date, summary.run_date_time)
        )
    ).all()
    return {row.dashboard_date: {name: row._mapping[name] for name in METRIC_NAMES} for row in rows}


async def load_store_period(
    session: AsyncSession,
    store_code: str,
    period: Period,
    run_id: str,
    *,
    generated_at: datetime | None = None,
    timezone: str = "Asia/Kolkata",
) -> StorePeriodReport:
    """The store's period report; a store without snapshots (or unknown) gets empty figures, which the
    layout turns into a "no data" notice."""
    code = store_code.strip().upper()
    store = await find_store(session, code)
    before = previous_period(period)
    snapshots: dict[date, Values] = {}
    if store is not None:
        # The day before the previous period too: its counters' base.
        snapshots = await load_snapshots(session, store.id, before.start - timedelta(days=1), period.end)
    previous = period_figures(snapshots, before)

    leads = INGEST_TABLES["missed_leads"]
    lead_rows = (
        await session.execute(
            select(leads.c.pickup_date, func.count())
            .where(
                func.upper(leads.c.store_code) == code,
                leads.c.pickup_date.between(before.start, period.end),
            )
            .group_by(leads.c.pickup_date)
        )
    ).all()
    leads_by_day: dict[date, int] = {row[0]: int(row[1]) for row in lead_rows}
    name = store.store_name if store is not None else None
    return StorePeriodReport(
        store_code=code,
        store_name=(name or "").strip() or code,
        period=period,
        run_id=run_id,
        generated_at=generated_at or datetime.now(UTC),
        figures=period_figures(snapshots, period),
        previous=previous if previous.has_data else None,
        leads_captured=sum(n for day, n in leads_by_day.items() if day >= period.start),
        leads_previous=sum(n for day, n in leads_by_day.items() if day < period.start),
        undelivered_orders=tuple(await load_undelivered(session, code, period.end, until=period.end)),
        missed_leads=tuple(await load_open_missed_leads(session, code, until=period.end)),
        timezone=timezone,
        orders_stored=await has_rows_until(session, "undelivered_all", code, period.end),
        leads_stored=await has_rows_until(session, "missed_leads", code, period.end),
    )


__all__ = [
    "MTD_COUNTERS",
    "BreakdownRow",
    "CombinedPeriodReport",
    "Correction",
    "Counter",
    "KpiSummary",
    "PeriodFigures",
    "PeriodNotes",
    "PeriodReport",
    "Revenue",
    "StorePeriodReport",
    "Volume",
    "breakdown_rows",
    "breakdown_spans",
    "combine_figures",
    "combine_kpis",
    "counter_volume",
    "kpi_summaries",
    "load_snapshots",
    "load_store_period",
    "month_parts",
    "period_figures",
    "period_notes",
    "previous_period",
    "revenue_summary",
    "sum_volumes",
]
