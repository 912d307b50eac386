"""Business dates: every report date and period is computed here, in the business time zone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month"]
DEFAULT_ZONE = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True, order=True)
class Period:
    """A complete reporting period; `end` is the report date stored on summaries and documents."""

    start: date
    end: date
    kind: PeriodKind

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}_to_{self.end.isoformat()}"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def next(self) -> Period:
        return period_containing(self.end + timedelta(days=1), self.kind)


def business_today(now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> date:
    """Today's date in the business zone; `now` must be timezone-aware (defaults to the current time)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date()


def daily_report_date(now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> date:
    """T-1: the business day before today."""
    return business_today(now, zone) - timedelta(days=1)


def day_of(day: date) -> Period:
    """A daily run's period: the report date alone."""
    return Period(day, day, "day")


def week_of(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=6), "week")


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    next_start = (start + timedelta(days=32)).replace(day=1)
    return Period(start, next_start - timedelta(days=1), "month")


def period_containing(day: date, kind: PeriodKind) -> Period:
    return {"day": day_of, "week": week_of, "month": month_of}[kind](day)


def last_complete_period(
    kind: PeriodKind, now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE
) -> Period:
    """The latest period that ended before today (a Monday run gets the week that ended yesterday)."""
    today = business_today(now, zone)
    current = period_containing(today, kind)
    return period_containing(current.start - timedelta(days=1), kind)


def last_complete_week(now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> Period:
    return last_complete_period("week", now, zone)


def previous_month(now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> Period:
    return last_complete_period("month", now, zone)


def complete_periods_between(first_day: date, last: Period) -> Iterator[Period]:
    """Every period of `last.kind` from the one containing `first_day` up to `last`, oldest first."""
    period = period_containing(first_day, last.kind)
    while period <= last:
        yield period
        period = period.next()


def parse_period(text: str, kind: PeriodKind) -> Period:
    """`YYYY-MM` (month) or any `YYYY-MM-DD` inside the wanted week/month."""
    text = text.strip()
    try:
        if kind == "month" and len(text) == 7:
            return month_of(date.fromisoformat(f"{text}-01"))
        return period_containing(date.fromisoformat(text[:10]), kind)
    except ValueError:
        expected = "YYYY-MM or YYYY-MM-DD" if kind == "month" else "YYYY-MM-DD"
        raise ValueError(f"period {text!r} is not a date ({expected})") from None
