from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm_core.reports.kpis import (
    DEFAULT_ACTION,
    DEFAULT_FOCUS,
    DEFAULT_HIGHLIGHT,
    NO_DATA_SUMMARY,
    NOTE_FLAT,
    NOTE_NO_CURRENT,
    NOTE_NO_PREVIOUS,
    PERIOD_WORDING,
    PRIMARY_KPIS,
    average,
    evaluate_kpi,
    evaluate_kpis,
    overall_health,
    recommendations,
    snapshot_change,
    summarise_kpi,
)

# (kpi, value, expected band label, expected score): every boundary of the band table, both sides.
BOUNDARIES = [
    ("pickup_conversion_total_pct", "82", "Excellent", 100),
    ("pickup_conversion_total_pct", "81.99", "Good", 80),
    ("pickup_conversion_total_pct", "70", "Good", 80),
    ("pickup_conversion_total_pct", "69.99", "Needs Attention", 55),
    ("pickup_conversion_total_pct", "55", "Needs Attention", 55),
    ("pickup_conversion_total_pct", "54.99", "Critical", 35),
    ("pickup_conversion_total_pct", "0", "Critical", 35),
    ("pickup_conversion_new_pct", "80", "Excellent", 100),
    ("pickup_conversion_new_pct", "79.99", "Good", 80),
    ("pickup_conversion_new_pct", "60", "Good", 80),
    ("pickup_conversion_new_pct", "59.99", "Needs Attention", 55),
    ("pickup_conversion_new_pct", "45", "Needs Attention", 55),
    ("pickup_conversion_new_pct", "44.99", "Critical", 35),
    ("pickup_conversion_existing_pct", "95", "Excellent", 100),
    ("pickup_conversion_existing_pct", "94.99", "Good", 80),
    ("pickup_conversion_existing_pct", "80", "Good", 80),
    ("pickup_conversion_existing_pct", "79.99", "Needs Attention", 55),
    ("pickup_conversion_existing_pct", "70", "Needs Attention", 55),
    ("pickup_conversion_existing_pct", "69.99", "Critical", 35),
    ("delivery_tat_pct", "95", "Excellent", 100),
    ("delivery_tat_pct", "94.99", "Good", 80),
    ("delivery_tat_pct", "85", "Good", 80),
    ("delivery_tat_pct", "84.99", "Needs Attention", 55),
    ("delivery_tat_pct", "70", "Needs Attention", 55),
    ("delivery_tat_pct", "69.99", "Critical", 35),
    ("undelivered_10_plus_count", "0", "Excellent", 100),
    ("undelivered_10_plus_count", "1", "Needs Attention", 55),
    ("undelivered_10_plus_count", "2", "Needs Attention", 55),
    ("undelivered_10_plus_count", "3", "Critical", 35),
    ("undelivered_10_plus_count", "40", "Critical", 35),
    ("undelivered_total_count", "0", "Excellent", 100),
    ("undelivered_total_count", "2", "Excellent", 100),
    ("undelivered_total_count", "3", "Good", 80),
    ("undelivered_total_count", "5", "Good", 80),
    ("undelivered_total_count", "6", "Needs Attention", 55),
    ("undelivered_total_count", "500", "Needs Attention", 55),
    ("repeat_customer_pct", "65", "Excellent", 100),
    ("repeat_customer_pct", "64.99", "Good", 80),
    ("repeat_customer_pct", "50", "Good", 80),
    ("repeat_customer_pct", "49.99", "Needs Attention", 55),
    ("repeat_customer_pct", "35", "Needs Attention", 55),
    ("repeat_customer_pct", "34.99", "Critical", 35),
]


@pytest.mark.parametrize(("key", "value", "label", "score"), BOUNDARIES)
def test_kpi_band_boundaries(key: str, value: str, label: str, score: int) -> None:
    result = evaluate_kpi(key, Decimal(value))
    assert (result.band.label, result.band.score) == (label, score)


def test_band_colours_follow_b73() -> None:
    assert evaluate_kpi("delivery_tat_pct", 99).band.colour == "#20bf6b"
    assert evaluate_kpi("delivery_tat_pct", 90).band.colour == "#2d98da"
    assert evaluate_kpi("delivery_tat_pct", 75).band.colour == "#f39c12"
    assert evaluate_kpi("delivery_tat_pct", 10).band.colour == "#e74c3c"
    assert evaluate_kpi("delivery_tat_pct", None).band.colour == "#7f8c8d"


def test_missing_value_is_no_data_and_zero_is_a_value() -> None:
    missing = evaluate_kpi("undelivered_10_plus_count", None)
    assert (missing.band.label, missing.band.key, missing.band.score, missing.display) == (
        "No Data",
        "missing",
        None,
        "N/A",
    )
    zero = evaluate_kpi("undelivered_10_plus_count", 0)
    assert (zero.band.label, zero.display) == ("Excellent", "0")
    assert evaluate_kpi("delivery_tat_pct", 0).display == "0%"
    assert evaluate_kpi("delivery_tat_pct", Decimal("68.82")).display == "69%"


def a817() -> dict[str, Decimal | int]:
    return {
        "pickup_conversion_total_pct": Decimal("68.82"),
        "pickup_conversion_new_pct": Decimal("65.45"),
        "pickup_conversion_existing_pct": Decimal("73.68"),
        "delivery_tat_pct": Decimal("12.0"),
        "undelivered_10_plus_count": 8,
        "undelivered_total_count": 21,
        "repeat_customer_pct": Decimal("41.94"),
    }


def test_health_matches_the_observed_samples() -> None:
    """The observed samples: A817 scored 53 (Critical), A668 scored 41 (Critical)."""
    health = overall_health(evaluate_kpis(a817()))
    assert (health.score, health.label, health.key, health.kpis_scored) == (53, "Critical", "critical", 7)
    a668 = {
        "pickup_conversion_total_pct": Decimal("53.54"),
        "pickup_conversion_new_pct": Decimal("55.43"),
        "pickup_conversion_existing_pct": Decimal("48.57"),
        "delivery_tat_pct": Decimal("20.78"),
        "undelivered_10_plus_count": 7,
        "undelivered_total_count": 41,
        "repeat_customer_pct": Decimal("26.32"),
    }
    assert overall_health(evaluate_kpis(a668)).score == 41


@pytest.mark.parametrize(
    ("scores", "score", "label", "key"),
    [
        ([100] * 7, 100, "Excellent", "excellent"),
        ([100, 80], 90, "Excellent", "excellent"),
        ([100, 80, 80, 80, 80, 80, 80], 83, "Stable", "good"),
        ([80, 80, 80, 55], 74, "At Risk", "warning"),  # 73.75 rounds to 74
        ([100, 55], 78, "Stable", "good"),  # 77.5 rounds half-up to 78
        ([55, 55, 80], 63, "At Risk", "warning"),
        ([55, 55, 55, 80], 61, "At Risk", "warning"),  # 61.25
        ([55, 55, 55, 55, 80, 35], 56, "Critical", "critical"),
        ([35], 35, "Critical", "critical"),
    ],
)
def test_health_levels(scores: list[int], score: int, label: str, key: str) -> None:
    # Build KPI results with the wanted scores from the total-conversion bands.
    value_for = {100: 90, 80: 75, 55: 60, 35: 10}
    results = [evaluate_kpi("pickup_conversion_total_pct", value_for[s]) for s in scores]
    health = overall_health(results)
    assert (health.score, health.label, health.key) == (score, label, key)


def test_health_without_any_kpi_data() -> None:
    health = overall_health(evaluate_kpis({}))
    assert (health.score, health.label, health.key, health.summary) == (
        0,
        "No Data",
        "warning",
        NO_DATA_SUMMARY,
    )
    assert len(evaluate_kpis({})) == len(PRIMARY_KPIS) == 7


def test_health_skips_missing_kpis() -> None:
    values = {"delivery_tat_pct": 99, "repeat_customer_pct": None}
    health = overall_health(evaluate_kpis(values))
    assert (health.score, health.kpis_scored, health.label) == (100, 1, "Excellent")


def test_recommendations_for_a_struggling_store() -> None:
    recs = recommendations(evaluate_kpis(a817()))
    assert recs.highlights == [DEFAULT_HIGHLIGHT]
    assert recs.focus_areas == [
        "Pickup conversion dipped – review lead quality and outbound follow-ups.",
        "Undelivered order backlog is elevated.",
        "Orders pending beyond 10 days require urgent intervention.",
        "Repeat customer contribution softened today.",
    ]
    assert recs.actions == [
        "Audit today's leads and coach the team on callbacks to lift conversion.",
        "Run an escalation huddle with the delivery team; prioritise oldest cases first.",
        "Call customers with >10 day delays and align revised ETAs by 11am tomorrow.",
        "Plan a targeted WhatsApp nudge to the last 30 repeat buyers with offers.",
    ]


def test_recommendations_for_a_strong_store() -> None:
    values = {
        "pickup_conversion_total_pct": 75,  # Good
        "delivery_tat_pct": 96,  # Excellent
        "repeat_customer_pct": 52,  # Good
        "undelivered_total_count": 4,  # Good: not a concern
        "undelivered_10_plus_count": 0,
    }
    recs = recommendations(evaluate_kpis(values))
    assert recs.highlights == [
        "Lead-to-pickup conversion held strong today, indicating solid front-desk execution.",
        "Delivery turnaround time stayed on track with most orders delivered within TAT.",
        "Repeat customers contributed meaningfully, showing healthy loyalty.",
    ]
    assert recs.focus_areas == [DEFAULT_FOCUS]
    assert recs.actions == [DEFAULT_ACTION]


def test_recommendations_ignore_missing_kpis() -> None:
    recs = recommendations(evaluate_kpis({"undelivered_10_plus_count": 1}))
    assert recs.highlights == [DEFAULT_HIGHLIGHT]
    assert recs.focus_areas == ["Orders pending beyond 10 days require urgent intervention."]


def test_snapshot_change_notes() -> None:
    up = snapshot_change(90, 93)
    assert (up.delta_text, up.note, up.tone, up.colour) == (
        "+3",
        "Up by 3 compared to the previous report.",
        "positive",
        "#20bf6b",
    )
    down = snapshot_change(80, 79)
    assert (down.delta_text, down.note, down.tone) == (
        "-1",
        "Down by 1 compared to the previous report.",
        "negative",
    )
    frac = snapshot_change(Decimal("2.5"), Decimal("4.25"))
    assert (frac.delta_text, frac.note) == ("+1.8", "Up by 1.8 compared to the previous report.")
    flat = snapshot_change(55, 55)
    assert (flat.delta_text, flat.note, flat.tone) == ("0", NOTE_FLAT, "neutral")
    almost = snapshot_change(Decimal("10.00"), Decimal("10.01"))
    assert (almost.note, almost.tone) == (NOTE_FLAT, "neutral")
    from_zero = snapshot_change(0, 4)
    assert (from_zero.delta_text, from_zero.tone) == ("+4", "positive")
    no_prev = snapshot_change(None, 13)
    assert (no_prev.delta_text, no_prev.note, no_prev.tone) == ("—", NOTE_NO_PREVIOUS, "neutral")
    no_cur = snapshot_change(13, None)
    assert (no_cur.delta_text, no_cur.note, no_cur.colour) == ("—", NOTE_NO_CURRENT, "#1c1c1c")


# --- a KPI over a period ---------------------------------------------------------------------------------

MON = date(2025, 11, 10)


def day(offset: int) -> date:
    return MON + timedelta(days=offset)


def test_period_average_bands_like_a_daily_value() -> None:
    period = summarise_kpi(
        "pickup_conversion_total_pct",
        {day(0): Decimal("80"), day(1): None, day(2): Decimal("60"), day(3): Decimal("70")},
    )
    assert period.result.value == Decimal("70") and period.result.band.label == "Good"
    assert period.result.display == "70%" and period.days_with_data == 3
    assert period.best == (day(0), Decimal("80")) and period.worst == (day(2), Decimal("60"))


def test_lower_is_better_kpis_pick_the_smallest_as_best_and_ties_go_to_the_earlier_day() -> None:
    period = summarise_kpi("undelivered_10_plus_count", {day(2): 1, day(0): 4, day(1): 1, day(3): 4})
    assert period.best == (day(1), Decimal(1)) and period.worst == (day(0), Decimal(4))
    # 2.5 on average: shown with its decimal, banded like a daily 2.5.
    assert (period.result.display, period.result.band.label) == ("2.5", "Needs Attention")


def test_period_without_any_value() -> None:
    period = summarise_kpi("delivery_tat_pct", {day(0): None})
    assert (period.best, period.worst, period.days_with_data) == (None, None, 0)
    assert (period.result.band.label, period.result.display) == ("No Data", "N/A")
    assert average([]) is None and average([None, 1, Decimal("2.5")]) == Decimal("1.75")


def test_period_wording_of_health() -> None:
    results = evaluate_kpis({"delivery_tat_pct": 99})
    daily, period = overall_health(results), overall_health(results, PERIOD_WORDING)
    assert (daily.score, daily.label) == (period.score, period.label) == (100, "Excellent")
    assert "period" in period.summary and period.summary != daily.summary
    assert overall_health([], PERIOD_WORDING).summary == PERIOD_WORDING.no_data
