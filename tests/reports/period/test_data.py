"""Period figures from synthetic snapshots: month-to-date arithmetic, gaps, corrections, revenue, KPIs, the
breakdown rows, the combined view and the notes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crm_core.periods import month_of, week_of
from crm_core.reports.period.data import (
    Correction,
    PeriodFigures,
    breakdown_spans,
    combine_figures,
    counter_volume,
    month_parts,
    period_figures,
    period_notes,
    previous_period,
    revenue_summary,
)

D = timedelta(days=1)
# Monday 28 Sep – Sunday 4 Oct 2026: a week that crosses the 1st.
CROSSING = week_of(date(2026, 10, 1))
OCTOBER = month_of(date(2026, 10, 15))


def days(start: date, end: date) -> list[date]:
    return [start + i * D for i in range((end - start).days + 1)]


def snapshot(**values: Any) -> dict[str, Any]:
    return values


def test_month_parts_cut_a_week_at_the_first() -> None:
    assert month_parts(CROSSING.start, CROSSING.end) == [
        (date(2026, 9, 28), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 10, 4)),
    ]


def test_week_crossing_a_month_boundary_adds_the_growth_of_each_month() -> None:
    # September's counter grows 100 → 110 over 28–30 Sep (base: 27 Sep); October's restarts at the 1st.
    series = {
        date(2026, 9, 27): 100,
        date(2026, 9, 28): 104,
        date(2026, 9, 29): 108,
        date(2026, 9, 30): 110,
        date(2026, 10, 1): 3,
        date(2026, 10, 2): 6,
        date(2026, 10, 3): 9,
        date(2026, 10, 4): 12,
    }
    volume = counter_volume(series, CROSSING.start, CROSSING.end)
    assert (volume.value, volume.exact, volume.missing, volume.corrections) == (22, True, (), ())
    assert volume.display == "22"
    # Summing the snapshots (the old mistake) would give 452.
    assert sum(series.values()) - series[date(2026, 9, 27)] != volume.value


def test_a_month_needs_no_day_before_the_first() -> None:
    series = {day: 2 * day.day for day in OCTOBER.days}  # ends at 62 on the 31st
    volume = counter_volume(series, OCTOBER.start, OCTOBER.end)
    assert (volume.value, volume.exact, volume.days_with_data, volume.days) == (62, True, 31, 31)


def test_a_missing_day_makes_a_lower_bound_and_is_listed() -> None:
    week = week_of(date(2026, 10, 7))  # 5–11 Oct
    series = {day: 10 * day.day for day in days(week.start - D, week.end) if day != date(2026, 10, 11)}
    volume = counter_volume(series, week.start, week.end)
    # The last snapshot is the 10th: 100 − 40 (the 4th), at least.
    assert (volume.value, volume.exact) == (60, False)
    assert volume.missing == (date(2026, 10, 11),)
    assert volume.display == "≥ 60 (6 of 7 days)"


def test_a_missing_day_before_the_period_falls_back_to_the_first_snapshot() -> None:
    week = week_of(date(2026, 10, 7))
    series = {day: 10 * day.day for day in week.days}  # no 4 Oct
    volume = counter_volume(series, week.start, week.end)
    assert (volume.value, volume.exact, volume.missing) == (60, False, (date(2026, 10, 4),))
    assert volume.display == "≥ 60 (day before missing)"


def test_a_counter_that_goes_down_is_reported_and_never_negative() -> None:
    week = week_of(date(2026, 10, 7))
    series = {date(2026, 10, 4): 50, **{day: 40 for day in week.days}}
    series[date(2026, 10, 8)] = 38
    volume = counter_volume(series, week.start, week.end)
    assert volume.value == 0 and volume.exact
    assert volume.corrections == (
        Correction(date(2026, 10, 5), 50, 40),
        Correction(date(2026, 10, 8), 40, 38),
    )


def test_no_snapshot_at_all_is_unknown_not_zero() -> None:
    volume = counter_volume({}, CROSSING.start, CROSSING.end)
    assert (volume.value, volume.exact, volume.display) == (None, False, "N/A")


def test_revenue_total_average_over_days_with_data_and_peak() -> None:
    daily = {
        date(2026, 10, 5): Decimal("100"),
        date(2026, 10, 6): Decimal("300"),
        date(2026, 10, 7): None,
        date(2026, 10, 8): Decimal("300"),
    }
    revenue = revenue_summary(daily, week_of(date(2026, 10, 5)).days)
    assert revenue.total == Decimal("700")
    assert revenue.average_per_day == Decimal("700") / 3
    assert revenue.peak == (date(2026, 10, 6), Decimal("300"))  # a tie goes to the earlier day
    assert (revenue.days_with_data, revenue.days) == (3, 7)


def crossing_store(scale: int = 1, skip: date | None = None) -> dict[date, dict[str, Any]]:
    snaps: dict[date, dict[str, Any]] = {}
    for day in days(CROSSING.start - 7 * D - D, CROSSING.end):
        if day == skip:
            continue
        snaps[day] = snapshot(
            pickup_total_count=scale * 5 * day.day,
            delivery_total_delivered=scale * 4 * day.day,
            pickup_new_count=2 * day.day,
            repeat_orders=day.day,
            ftd_revenue=Decimal(1000 * scale + day.day),
            pickup_total_conv_pct=Decimal(60 + day.day % 7),
            delivery_tat_pct=Decimal(90),
            delivery_total_undelivered=4,
        )
    return snaps


def test_period_figures_of_a_week_crossing_the_first() -> None:
    figures = period_figures(crossing_store(), CROSSING)
    # Pickups: September 5×30 − 5×27 = 15, October 5×4 = 20.
    assert figures.volumes["pickups"].value == 35 and figures.volumes["pickups"].exact
    assert figures.volumes["deliveries"].value == 12 + 16
    assert figures.coverage == "7 of 7 days ingested"
    # Day rows: the growth of the counter that day; the 1st is the restarted counter itself.
    assert [row.pickups.value for row in figures.rows] == [5, 5, 5, 5, 5, 5, 5]
    assert [row.label for row in figures.rows][:2] == ["Mon 28 Sep", "Tue 29 Sep"]
    conversion = figures.kpis[0]
    # 28 Sep → 60 + 0, 29 → 61, 30 → 62, 1 Oct → 61, 2 → 62, 3 → 63, 4 → 64.
    assert conversion.result.value == Decimal(433) / 7
    assert conversion.best == ("04 Oct", Decimal(64)) and conversion.worst == ("28 Sep", Decimal(60))
    assert figures.kpis[3].result.band.label == "Good"  # TAT 90%
    assert figures.health.kpis_scored == 3


def test_a_month_is_broken_down_by_iso_week_cut_at_its_edges() -> None:
    spans = breakdown_spans(OCTOBER)
    assert [label for label, _, _ in spans] == [
        "Wk 40 (01 Oct–04 Oct)",
        "Wk 41 (05 Oct–11 Oct)",
        "Wk 42 (12 Oct–18 Oct)",
        "Wk 43 (19 Oct–25 Oct)",
        "Wk 44 (26 Oct–31 Oct)",
    ]
    snaps = {day: snapshot(pickup_total_count=3 * day.day, ftd_revenue=Decimal(10)) for day in OCTOBER.days}
    figures = period_figures(snaps, OCTOBER)
    assert [row.pickups.value for row in figures.rows] == [12, 21, 21, 21, 18]
    assert [row.revenue for row in figures.rows] == [Decimal(40), *[Decimal(70)] * 3, Decimal(60)]
    assert figures.volumes["pickups"].value == 93


def test_a_store_without_data() -> None:
    figures = period_figures({}, CROSSING)
    assert not figures.has_data
    assert all(v.value is None for v in figures.volumes.values())
    assert figures.revenue.total is None
    assert figures.health.label == "No Data"
    assert figures.missing_days == tuple(CROSSING.days)


def test_combined_view_sums_volumes_and_averages_store_averages() -> None:
    a = period_figures(crossing_store(), CROSSING)
    b = period_figures(crossing_store(scale=2, skip=date(2026, 10, 2)), CROSSING)
    empty = period_figures({}, CROSSING)
    combined = combine_figures({"A": a, "B": b, "C": empty}, CROSSING)
    pickups = combined.volumes["pickups"]
    # B still has 30 Sep and 4 Oct: its exact growth is 2 × 35, but the gap makes the sum a lower bound.
    assert pickups.value == 35 + 70 and not pickups.exact and pickups.incomplete_stores == ("B",)
    assert pickups.display == "≥ 105"
    assert combined.revenue.total == (a.revenue.total or 0) + (b.revenue.total or 0)
    a_conv, b_conv = a.kpis[0].result.value, b.kpis[0].result.value
    assert a_conv is not None and b_conv is not None
    assert combined.kpis[0].result.value == (a_conv + b_conv) / 2
    assert combined.kpis[0].best is not None and combined.kpis[0].best[0] in ("A", "B")
    assert combined.days_with_data == tuple(CROSSING.days)
    # The day rows add up too: 2 Oct is missing for B, so that day's sum is a lower bound.
    row = combined.rows[4]
    assert row.label == "Fri 02 Oct" and not row.pickups.exact


def test_notes_name_gaps_corrections_and_the_change_on_the_previous_period() -> None:
    snaps = crossing_store(skip=date(2026, 10, 3))
    snaps[date(2026, 9, 29)]["pickup_total_count"] = 10  # down from 140 on the 28th
    figures = period_figures(snaps, CROSSING)
    previous = period_figures(crossing_store(), previous_period(CROSSING))
    notes = period_notes(figures, previous, overdue_orders=2, noun="week")
    text = " ".join(notes.risks)
    assert "missing for 1 day(s) (03 Oct)" in text
    assert "pickups counter went down on 29 Sep (140 → 10)" in text
    assert "2 undelivered orders are more than 10 days past" in text
    assert any("daily pipeline" in item for item in notes.focus)


def test_notes_compare_exact_pickups_with_the_previous_period() -> None:
    figures = period_figures(crossing_store(scale=2), CROSSING)
    previous = period_figures(crossing_store(), previous_period(CROSSING))
    assert isinstance(previous, PeriodFigures) and previous.period == week_of(date(2026, 9, 21))
    notes = period_notes(figures, previous, overdue_orders=0, noun="week")
    assert any(h.startswith("Pickups grew by") for h in notes.highlights)
