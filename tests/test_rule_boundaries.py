"""The product's rules at their exact thresholds: the value at, just below and just above each one.

Several of these were written to kill mutants that survived mutation testing (scripts/mutation.sh): a
threshold moved by one, a comparison turned strict, an argument dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from pydantic import ValidationError

from crm_core.exports import MISSED_LEADS
from crm_core.ingest.validate import INT_MAX, INT_MIN, Validator, validate_row
from crm_core.periods import (
    business_today,
    daily_report_date,
    day_of,
    last_complete_period,
    last_complete_week,
    month_of,
    parse_period,
    previous_month,
    week_of,
)
from crm_core.reports.kpis import (
    CRITICAL,
    EXCELLENT,
    FLAT_TOLERANCE,
    GOOD,
    NEEDS_ATTENTION,
    NOTE_COUNTER_RESTARTED,
    NOTE_FLAT,
    NOTE_NO_CURRENT,
    NOTE_NO_PREVIOUS,
    evaluate_kpi,
    overall_health,
    snapshot_change,
)
from crm_core.settings import Settings

CENT = Decimal("0.01")

# --- KPI bands --------------------------------------------------------------------------------------------

HIGHER_IS_BETTER = {
    "pickup_conversion_total_pct": (82, 70, 55),
    "pickup_conversion_new_pct": (80, 60, 45),
    "pickup_conversion_existing_pct": (95, 80, 70),
    "delivery_tat_pct": (95, 85, 70),
    "repeat_customer_pct": (65, 50, 35),
}


@pytest.mark.parametrize(("key", "thresholds"), HIGHER_IS_BETTER.items())
def test_higher_is_better_bands_at_each_threshold(key: str, thresholds: tuple[int, int, int]) -> None:
    excellent, good, attention = (Decimal(t) for t in thresholds)
    cases = [
        (excellent + CENT, EXCELLENT),
        (excellent, EXCELLENT),
        (excellent - CENT, GOOD),
        (good, GOOD),
        (good - CENT, NEEDS_ATTENTION),
        (attention, NEEDS_ATTENTION),
        (attention - CENT, CRITICAL),
        (Decimal(0), CRITICAL),
    ]
    assert [(value, evaluate_kpi(key, value).band) for value, _ in cases] == cases


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0, EXCELLENT),
        (-1, EXCELLENT),
        (1, NEEDS_ATTENTION),
        (2, NEEDS_ATTENTION),
        (3, CRITICAL),
        (4, CRITICAL),
    ],
)
def test_undelivered_over_10_days_bands(value: int, band: object) -> None:
    assert evaluate_kpi("undelivered_10_plus_count", value).band == band


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (2, EXCELLENT),
        (3, GOOD),
        (5, GOOD),
        (6, NEEDS_ATTENTION),
        (Decimal("2.01"), GOOD),
        (500, NEEDS_ATTENTION),
    ],
)
def test_total_undelivered_bands(value: int | Decimal, band: object) -> None:
    assert evaluate_kpi("undelivered_total_count", value).band == band


# --- overall health: the mean of the band scores (100/80/55/35), rounded half up ---------------------------


def results(*values: int) -> list:  # type: ignore[type-arg]
    """KPI results whose band scores are `values` (pickup conversion total, banded by its thresholds)."""
    by_score = {100: 90, 80: 75, 55: 60, 35: 0}
    return [evaluate_kpi("pickup_conversion_total_pct", by_score[v]) for v in values]


@pytest.mark.parametrize(
    ("scores", "score", "label"),
    [
        ((100, 80), 90, "Excellent"),  # 90.0: at the threshold
        ((100, 80, 80, 80, 80, 80, 80), 83, "Stable"),
        ((100, 100, 100, 55), 89, "Stable"),  # 88.75 rounds to 89: just below
        ((80, 55, 100, 55), 73, "At Risk"),  # 72.5 rounds half up to 73
        ((100, 55), 78, "Stable"),  # 77.5 rounds half up to 78
        ((100, 100, 55, 55), 78, "Stable"),
        ((80, 80, 55, 80), 74, "At Risk"),  # 73.75: just below 75
        ((100, 100, 100, 35), 84, "Stable"),
        ((80, 55, 55, 55, 80, 35, 55), 59, "Critical"),  # 59.29: just below 60
        ((80, 55, 35, 80, 55, 55), 60, "At Risk"),  # 60.0: at the threshold
        ((35,), 35, "Critical"),
    ],
)
def test_health_levels_at_their_thresholds(scores: tuple[int, ...], score: int, label: str) -> None:
    health = overall_health(results(*scores))
    assert (health.score, health.label, health.kpis_scored) == (score, label, len(scores))


def test_health_without_any_kpi_is_no_data() -> None:
    health = overall_health([evaluate_kpi("pickup_conversion_total_pct", None)])
    assert (health.score, health.label, health.kpis_scored) == (0, "No Data", 0)


# --- snapshot change: within one paisa/point is flat -------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "tone"),
    [
        (Decimal("10.00"), Decimal("10.01"), "neutral"),  # at the tolerance
        (Decimal("10.00"), Decimal("9.99"), "neutral"),
        (Decimal("10.00"), Decimal("10.02"), "positive"),  # just above
        (Decimal("10.00"), Decimal("9.98"), "negative"),
        (Decimal("10.00"), Decimal("10.00"), "neutral"),
    ],
)
def test_snapshot_change_at_the_flat_tolerance(previous: Decimal, current: Decimal, tone: str) -> None:
    change = snapshot_change(previous, current)
    assert change.tone == tone
    assert (change.note == NOTE_FLAT) == (tone == "neutral")
    assert FLAT_TOLERANCE == CENT


# --- validation: the 32-bit INTEGER range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        (str(INT_MAX), True),
        (str(INT_MAX + 1), False),
        (str(INT_MAX - 1), True),
        (str(INT_MIN), True),
        (str(INT_MIN - 1), False),
        (str(INT_MIN + 1), True),
        ("12.0", True),
        ("12.5", False),
    ],
)
def test_integer_range_boundaries_in_both_implementations(raw: str, accepted: bool) -> None:
    row = {"pickup_row_id": raw, "mobile_number": "9800000001", "pickup_no": "P1", "store_code": "A668"}
    batch = pl.DataFrame([row | dict.fromkeys(set(MISSED_LEADS.column_names) - set(row))])
    result = Validator(MISSED_LEADS).validate(batch, file_name="m.csv", line_offset=0)
    assert (result.valid.height == 1) == accepted
    assert (validate_row(MISSED_LEADS, row).row is not None) == accepted


# --- business dates ---------------------------------------------------------------------------------------

IST = ZoneInfo("Asia/Kolkata")


def test_business_day_turns_at_midnight_in_the_business_zone() -> None:
    just_before = datetime(2025, 11, 18, 18, 29, 59, tzinfo=UTC)  # 23:59:59 IST
    at = datetime(2025, 11, 18, 18, 30, tzinfo=UTC)  # 00:00 IST on the 19th
    assert business_today(just_before) == date(2025, 11, 18)
    assert business_today(at) == date(2025, 11, 19)
    assert daily_report_date(at) == date(2025, 11, 18)
    # The zone is honoured, not just the default one.
    assert business_today(at, UTC) == date(2025, 11, 18)
    assert daily_report_date(at, UTC) == date(2025, 11, 17)


def test_business_today_defaults_to_now_and_refuses_naive_times() -> None:
    assert business_today() in {datetime.now(IST).date(), (datetime.now(IST) - timedelta(seconds=5)).date()}
    with pytest.raises(ValueError, match=r"^now must be timezone-aware$"):
        business_today(datetime(2025, 11, 19, 10, 0))


def test_last_complete_periods_at_their_boundaries() -> None:
    monday_ist = datetime(2025, 11, 16, 18, 30, tzinfo=UTC)  # Monday 17 Nov 00:00 IST
    assert last_complete_week(monday_ist) == week_of(date(2025, 11, 16))
    assert last_complete_week(monday_ist - timedelta(seconds=1)) == week_of(date(2025, 11, 9))
    assert last_complete_week(monday_ist, UTC) == week_of(date(2025, 11, 9))  # still Sunday in UTC
    first_ist = datetime(2025, 11, 30, 18, 30, tzinfo=UTC)  # 1 Dec 00:00 IST
    assert previous_month(first_ist) == month_of(date(2025, 11, 1))
    assert previous_month(first_ist, UTC) == month_of(date(2025, 10, 1))
    assert last_complete_period("day", first_ist) == day_of(date(2025, 11, 30))
    assert last_complete_period("day", first_ist, UTC) == day_of(date(2025, 11, 29))


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2024, 2, 29), date(2024, 2, 1), date(2024, 2, 29)),
        (date(2025, 2, 28), date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 1, 31), date(2025, 1, 1), date(2025, 1, 31)),
        (date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_month_ends(day: date, start: date, end: date) -> None:
    assert (month_of(day).start, month_of(day).end) == (start, end)


def test_next_period_follows_the_period() -> None:
    assert day_of(date(2025, 12, 31)).next() == day_of(date(2026, 1, 1))
    assert week_of(date(2025, 11, 19)).next() == week_of(date(2025, 11, 24))
    assert month_of(date(2025, 12, 5)).next() == month_of(date(2026, 1, 1))


def test_parse_period_forms_and_errors() -> None:
    assert parse_period("2025-11", "month") == month_of(date(2025, 11, 1))
    assert parse_period(" 2025-11-19T10:00 ", "week") == week_of(date(2025, 11, 19))
    with pytest.raises(ValueError, match=r"^period '2025-11' is not a date \(YYYY-MM-DD\)$"):
        parse_period("2025-11", "week")
    with pytest.raises(ValueError, match=r"^period '2025-13' is not a date \(YYYY-MM or YYYY-MM-DD\)$"):
        parse_period("2025-13", "month")


# --- settings bounds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "ok", "refused"),
    [
        ("smtp_port", [1, 65535], [0, 65536]),
        ("ingest_batch_size", [1, 100_000], [0, 100_001]),
        ("portal_concurrency", [1, 16], [0, 17]),
        ("portal_nav_timeout_ms", [1_000], [999]),
        ("smtp_timeout_s", [0.001], [0, -1]),
    ],
)
def test_settings_bounds(field: str, ok: list[float], refused: list[float]) -> None:
    for value in ok:
        assert getattr(Settings(_env_file=None, **{field: value}), field) == value  # type: ignore[call-arg]
    for value in refused:
        with pytest.raises(ValidationError, match=field):
            Settings(_env_file=None, **{field: value})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("previous", "current", "restarted", "delta", "note", "tone"),
    [
        (Decimal(5), None, False, None, NOTE_NO_CURRENT, "neutral"),
        (Decimal(5), Decimal(7), True, None, NOTE_COUNTER_RESTARTED, "neutral"),
        (None, Decimal(7), False, None, NOTE_NO_PREVIOUS, "neutral"),
        (Decimal(5), Decimal("5.01"), False, Decimal("0.01"), NOTE_FLAT, "neutral"),
        (Decimal(5), Decimal(6), False, Decimal(1), "Up by 1 compared to the previous report.", "positive"),
        (
            Decimal(5),
            Decimal(4),
            False,
            Decimal(-1),
            "Down by 1 compared to the previous report.",
            "negative",
        ),
    ],
)
def test_snapshot_change_carries_both_values_and_its_note(
    previous: Decimal | None,
    current: Decimal | None,
    restarted: bool,
    delta: Decimal | None,
    note: str,
    tone: str,
) -> None:
    change = snapshot_change(previous, current, counter_restarted=restarted)
    assert (change.previous, change.current, change.delta, change.note, change.tone) == (
        previous,
        current,
        delta,
        note,
        tone,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, False), ("", False), ("1", True), (" 1\t", True), ("0", False), ("1.0", False), ("true", False)],
)
def test_the_boolean_rule_in_both_implementations(raw: str | None, expected: bool) -> None:
    row = {"pickup_row_id": "1", "mobile_number": "9800000001", "pickup_no": "P1", "store_code": "A668"}
    if raw is not None:
        row["is_order_placed"] = raw
    outcome = validate_row(MISSED_LEADS, row)
    assert outcome.row is not None and outcome.row["is_order_placed"] is expected
    batch = pl.DataFrame([row | dict.fromkeys(set(MISSED_LEADS.column_names) - set(row))])
    valid = Validator(MISSED_LEADS).validate(batch, file_name="m.csv", line_offset=0).valid
    assert valid["is_order_placed"].to_list() == [expected]


def test_rejects_have_their_four_columns_with_or_without_a_reject() -> None:
    good = {"pickup_row_id": "1", "mobile_number": "9800000001", "pickup_no": "P1", "store_code": "A668"}
    schema = {"file": pl.String, "line": pl.Int64, "column": pl.String, "reason": pl.String}
    for rows, count in (([good], 0), ([good, good | {"pickup_no": " "}], 1)):
        batch = pl.DataFrame([r | dict.fromkeys(set(MISSED_LEADS.column_names) - set(r)) for r in rows])
        rejects = Validator(MISSED_LEADS).validate(batch, file_name="m.csv", line_offset=0).rejects
        assert dict(rejects.schema) == schema and rejects.height == count
    assert rejects.to_dicts() == [
        {"file": "m.csv", "line": 3, "column": "pickup_no", "reason": "missing required value"}
    ]


def test_line_numbers_come_from_provenance_only_when_both_columns_are_there() -> None:
    row = {"pickup_row_id": "x", "mobile_number": "9800000001", "pickup_no": "P1", "store_code": "A668"}
    batch = pl.DataFrame([row | dict.fromkeys(set(MISSED_LEADS.column_names) - set(row))])
    only_file = batch.with_columns(pl.lit("A668-missed-leads.csv").alias("source_file"))
    rejects = Validator(MISSED_LEADS).validate(only_file, file_name="m.csv", line_offset=10).rejects
    assert rejects.select("file", "line").row(0) == ("m.csv", 12)


def test_every_bad_setting_is_named_once_in_one_line() -> None:
    from crm_core.errors import ConfigError
    from crm_core.settings import load_settings

    with pytest.raises(ConfigError) as failure:
        load_settings(_env_file=None, smtp_port=0, ingest_batch_size=0)
    message = str(failure.value)
    assert message.startswith("invalid configuration: ")
    parts = message.removeprefix("invalid configuration: ").split("; ")
    assert sorted(p.split(": ")[0] for p in parts) == ["INGEST_BATCH_SIZE", "SMTP_PORT"]
    assert "\n" not in message


def test_a_model_level_setting_error_is_its_message_alone() -> None:
    from crm_core.errors import ConfigError
    from crm_core.settings import load_settings

    with pytest.raises(ConfigError) as failure:
        load_settings(_env_file=None, crm_run_env="prod")
    assert str(failure.value).startswith(
        "invalid configuration: DATABASE_URL must be set when CRM_RUN_ENV=prod"
    )
