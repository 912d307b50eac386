"""How numbers, money and dates are printed in every report: one place for daily, weekly and monthly PDFs.

Rules: a real 0 prints as 0; only a missing value (None) prints as "N/A". Money uses Indian digit grouping
(₹1,23,456.50). Percentages are stored 0–100 and printed as whole numbers ("69%"). Rounding is half-up
(as people round), never banker's rounding.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

Number = int | float | Decimal

MISSING = "N/A"
UNKNOWN_DELTA = "—"
RUPEE = "₹"


def to_decimal(value: Number | None) -> Decimal | None:
    """Exact decimal for arithmetic and rounding; floats go through str() so 0.1 stays 0.1."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def round_half_up(value: Number, places: int = 0) -> Decimal:
    dec = to_decimal(value)
    if dec is None or not dec.is_finite():
        raise ValueError(f"cannot round {value!r}")
    return dec.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def group_indian(digits: str) -> str:
    """'1234567' → '12,34,567': the last three digits, then groups of two (lakh, crore)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail])


def format_indian(value: Number, decimals: int = 2) -> str:
    """Indian-grouped number: 123456.5 → '1,23,456.50'; -1500 → '-1,500.00'."""
    rounded = round_half_up(value, decimals)
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):.{decimals}f}"
    whole, _, fraction = text.partition(".")
    grouped = group_indian(whole)
    return f"{sign}{grouped}.{fraction}" if decimals > 0 else f"{sign}{grouped}"


def format_money(value: Number | None, *, symbol: bool = True, decimals: int = 2) -> str:
    """'₹1,23,456.50'; None → 'N/A'; negative amounts as '-₹1,500.00'."""
    if value is None:
        return MISSING
    text = format_indian(value, decimals)
    if not symbol:
        return text
    return f"-{RUPEE}{text[1:]}" if text.startswith("-") else f"{RUPEE}{text}"


def format_count(value: Number | None) -> str:
    """Whole number with Indian grouping ('1,234', '12,34,567'); None → 'N/A'."""
    if value is None:
        return MISSING
    return format_indian(value, 0)


def format_pct(value: Number | None) -> str:
    """Percent stored 0–100, printed whole: 68.82 → '69%', 0 → '0%'; None → 'N/A'."""
    if value is None:
        return MISSING
    return f"{round_half_up(value, 0)}%"


def format_number(value: Number | None, *, max_decimals: int = 1) -> str:
    """Integer when whole, else up to `max_decimals` places: 3 → '3', 2.5 → '2.5'; None → 'N/A'."""
    if value is None:
        return MISSING
    rounded = round_half_up(value, max_decimals)
    if rounded == rounded.to_integral_value():
        return format_indian(rounded, 0)
    return format_indian(rounded, max_decimals)


def format_delta(delta: Number | None) -> str:
    """Signed change: '+3', '-1', '0', '+1.5' (one decimal when fractional); unknown → '—'."""
    if delta is None:
        return UNKNOWN_DELTA
    text = format_number(delta)
    if text in ("0", "-0"):
        return "0"
    return text if text.startswith("-") else f"+{text}"


def format_date(value: date | None) -> str:
    """'17 Nov 2025'; None → 'N/A'."""
    return MISSING if value is None else value.strftime("%d %b %Y")


def format_timestamp(moment: datetime, zone: ZoneInfo) -> str:
    """'17 Nov 2025, 07:32 AM IST': a UTC timestamp shown in the business time zone."""
    local = moment.astimezone(zone)
    return f"{local.strftime('%d %b %Y, %I:%M %p')} {local.tzname() or zone.key}".rstrip()
