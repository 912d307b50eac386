from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm_core.reports.formatting import (
    format_count,
    format_date,
    format_delta,
    format_indian,
    format_money,
    format_number,
    format_pct,
    format_timestamp,
    group_indian,
)


@pytest.mark.parametrize(
    ("digits", "grouped"),
    [
        ("0", "0"),
        ("999", "999"),
        ("1000", "1,000"),
        ("99999", "99,999"),
        ("100000", "1,00,000"),
        ("123456", "1,23,456"),
        ("1234567", "12,34,567"),
        ("12345678", "1,23,45,678"),
        ("123456789", "12,34,56,789"),
    ],
)
def test_indian_grouping(digits: str, grouped: str) -> None:
    assert group_indian(digits) == grouped


def test_money_uses_rupee_sign_indian_grouping_and_two_decimals() -> None:
    assert format_money(Decimal("123456.50")) == "₹1,23,456.50"
    assert format_money(1234567.891) == "₹12,34,567.89"
    assert format_money(11513.0) == "₹11,513.00"
    assert format_money(Decimal("0.005")) == "₹0.01"  # half-up, not banker's rounding
    assert format_money(-1500) == "-₹1,500.00"
    assert format_money(Decimal("123456.5"), symbol=False) == "1,23,456.50"
    assert format_indian(Decimal("-0.004")) == "0.00"


def test_real_zero_is_zero_and_only_missing_is_na() -> None:
    assert format_money(0) == "₹0.00"
    assert format_pct(0) == "0%"
    assert format_count(0) == "0"
    assert format_number(0) == "0"
    assert format_money(None) == "N/A"
    assert format_pct(None) == "N/A"
    assert format_count(None) == "N/A"
    assert format_number(None) == "N/A"


def test_percentages_print_as_whole_numbers() -> None:
    assert format_pct(Decimal("68.82")) == "69%"
    assert format_pct(Decimal("12.0")) == "12%"
    assert format_pct(Decimal("64.5")) == "65%"
    assert format_pct(Decimal("100.00")) == "100%"
    assert format_pct(-3.4) == "-3%"


def test_counts_and_numbers() -> None:
    assert format_count(123456) == "1,23,456"
    assert format_number(3) == "3"
    assert format_number(Decimal("2.50")) == "2.5"
    assert format_number(Decimal("2.04")) == "2"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (3, "+3"),
        (-1, "-1"),
        (0, "0"),
        (Decimal("1.5"), "+1.5"),
        (Decimal("-0.25"), "-0.3"),
        (Decimal("0.004"), "0"),
        (None, "—"),
    ],
)
def test_delta_format(delta: Decimal | int | None, text: str) -> None:
    assert format_delta(delta) == text


def test_dates_and_timestamps() -> None:
    assert format_date(date(2025, 11, 17)) == "17 Nov 2025"
    assert format_date(None) == "N/A"
    moment = datetime(2025, 11, 18, 2, 5, tzinfo=UTC)
    assert format_timestamp(moment, ZoneInfo("Asia/Kolkata")) == "18 Nov 2025, 07:35 AM IST"
