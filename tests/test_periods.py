from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crm_core.periods import (
    Period,
    complete_periods_between,
    daily_report_date,
    last_complete_week,
    month_of,
    parse_period,
    previous_month,
    week_of,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_t_minus_one_uses_business_zone_not_utc() -> None:
    # 00:30 IST on 1 March is still 28 Feb in UTC: the business day is 1 March, so T-1 = 28 Feb.
    assert daily_report_date(utc(2025, 2, 28, 19, 0)) == date(2025, 2, 28)
    # 00:30 IST on 15 Nov = 19:00 UTC on 14 Nov.
    assert daily_report_date(utc(2025, 11, 14, 19, 0)) == date(2025, 11, 14)
    assert daily_report_date(utc(2025, 11, 14, 18, 0)) == date(2025, 11, 13)


def test_t_minus_one_across_year_end_and_leap_day() -> None:
    assert daily_report_date(utc(2026, 1, 1, 6, 0)) == date(2025, 12, 31)
    assert daily_report_date(utc(2024, 3, 1, 6, 0)) == date(2024, 2, 29)
    assert daily_report_date(utc(2023, 3, 1, 6, 0)) == date(2023, 2, 28)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        daily_report_date(datetime(2025, 1, 1))


def test_last_complete_week_on_monday_and_midweek() -> None:
    # Monday 17 Nov 2025, 08:00 IST: the week that ended yesterday.
    assert last_complete_week(utc(2025, 11, 17, 2, 30)) == Period(
        date(2025, 11, 10), date(2025, 11, 16), "week"
    )
    # Wednesday: still the same complete week.
    assert last_complete_week(utc(2025, 11, 19, 2, 30)).end == date(2025, 11, 16)
    # Sunday is not complete until it is over.
    assert last_complete_week(utc(2025, 11, 16, 10, 0)).end == date(2025, 11, 9)
    # 00:30 IST Monday = Sunday 19:00 UTC: the business day is Monday already.
    assert last_complete_week(utc(2025, 11, 16, 19, 0)).end == date(2025, 11, 16)


def test_week_across_year_end() -> None:
    week = last_complete_week(utc(2026, 1, 5, 3, 0))
    assert (week.start, week.end) == (date(2025, 12, 29), date(2026, 1, 4))
    assert week.label == "2025-12-29_to_2026-01-04"


def test_previous_month_on_first_of_month_year_end_and_leap_year() -> None:
    assert previous_month(utc(2025, 12, 1, 3, 0)) == Period(date(2025, 11, 1), date(2025, 11, 30), "month")
    assert previous_month(utc(2026, 1, 1, 3, 0)) == Period(date(2025, 12, 1), date(2025, 12, 31), "month")
    assert previous_month(utc(2024, 3, 15, 3, 0)).end == date(2024, 2, 29)
    assert previous_month(utc(2024, 3, 15, 3, 0)).label == "2024-02"
    # 00:30 IST on 1 Dec = 30 Nov 19:00 UTC: November is complete.
    assert previous_month(utc(2025, 11, 30, 19, 0)).label == "2025-11"


def test_complete_periods_between_lists_every_period_oldest_first() -> None:
    last = month_of(date(2025, 3, 1))
    months = list(complete_periods_between(date(2024, 11, 20), last))
    assert [m.label for m in months] == ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    weeks = list(complete_periods_between(date(2025, 2, 26), week_of(date(2025, 3, 10))))
    assert [w.start for w in weeks] == [date(2025, 2, 24), date(2025, 3, 3), date(2025, 3, 10)]
    assert all(len(w.days) == 7 for w in weeks)
    assert list(complete_periods_between(date(2025, 4, 1), last)) == []


def test_parse_period() -> None:
    assert parse_period("2025-02", "month").end == date(2025, 2, 28)
    assert parse_period("2025-11-12", "week").start == date(2025, 11, 10)
    with pytest.raises(ValueError, match="not a date"):
        parse_period("last week", "week")


def test_a_day_is_a_period_of_its_own() -> None:
    from crm_core.periods import day_of, period_containing

    day = date(2024, 2, 29)
    assert day_of(day) == period_containing(day, "day")
    assert (day_of(day).start, day_of(day).end, day_of(day).label) == (day, day, "2024-02-29")
    assert day_of(day).next() == day_of(date(2024, 3, 1))
    assert day_of(day).days == [day]
