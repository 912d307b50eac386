"""The dashboard figures scraped per store and day: names, sections and value kinds.

`store_dashboard_summary` columns derive from `METRICS`; the scraper and the reports use the same names.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

MetricKind = Literal["money", "pct", "count"]
# Stored precision per kind (NUMERIC(precision, scale); counts are 32-bit INTEGER): the columns of
# `store_dashboard_summary` use it, and the scraper refuses values that would not fit.
NUMERIC_DIGITS: dict[MetricKind, tuple[int, int]] = {"money": (14, 2), "pct": (6, 2)}
COUNT_MAX = 2**31 - 1


def fits_column(kind: MetricKind, value: Decimal | int) -> bool:
    magnitude = Decimal(value).copy_abs()
    if kind == "count":
        return bool(magnitude <= COUNT_MAX)
    precision, scale = NUMERIC_DIGITS[kind]
    return bool(magnitude < 10 ** (precision - scale))


Section = Literal["Revenue", "Pickup", "Delivery", "Repeat Customers", "Package"]

SECTIONS: tuple[Section, ...] = ("Revenue", "Pickup", "Delivery", "Repeat Customers", "Package")


@dataclass(frozen=True)
class Metric:
    name: str
    section: Section
    kind: MetricKind
    label: str


METRICS: tuple[Metric, ...] = (
    Metric("prev_month_revenue", "Revenue", "money", "Prev Month"),
    Metric("target_revenue", "Revenue", "money", "Target"),
    Metric("lmt_d_revenue", "Revenue", "money", "LMTD"),
    Metric("mtd_revenue", "Revenue", "money", "MTD"),
    Metric("ftd_revenue", "Revenue", "money", "FTD"),
    Metric("tgt_vs_ach_pct", "Revenue", "pct", "Tgt vs Ach (%)"),
    Metric("growth_pct", "Revenue", "pct", "Growth (%)"),
    Metric("extrapolated_pct", "Revenue", "pct", "Extrapolated (%)"),
    Metric("pickup_new_count", "Pickup", "count", "New"),
    Metric("pickup_new_conv_count", "Pickup", "count", "New Conv."),
    Metric("pickup_new_conv_pct", "Pickup", "pct", "New Conv. (%)"),
    Metric("pickup_existing_count", "Pickup", "count", "Existing"),
    Metric("pickup_existing_conv_count", "Pickup", "count", "Existing Conv."),
    Metric("pickup_existing_conv_pct", "Pickup", "pct", "Existing Conv. (%)"),
    Metric("pickup_total_count", "Pickup", "count", "Total"),
    Metric("pickup_total_conv_count", "Pickup", "count", "Total Conv."),
    Metric("pickup_total_conv_pct", "Pickup", "pct", "Total Conv. (%)"),
    Metric("delivery_total_orders", "Delivery", "count", "Total Orders"),
    Metric("delivery_within_tat_count", "Delivery", "count", "Within TAT"),
    Metric("delivery_tat_pct", "Delivery", "pct", "TAT (%)"),
    Metric("delivery_total_delivered", "Delivery", "count", "Total Delivered"),
    Metric("delivery_undel_over_10_days", "Delivery", "count", "Undel. > 10 Days"),
    Metric("delivery_total_undelivered", "Delivery", "count", "Total Undel."),
    Metric("repeat_customer_base_6m", "Repeat Customers", "count", "Customer (6 Months Ago)"),
    Metric("repeat_orders", "Repeat Customers", "count", "Repeat Orders"),
    Metric("repeat_total_base_pct", "Repeat Customers", "pct", "Total Base (%)"),
    Metric("package_target", "Package", "count", "Target"),
    Metric("package_new", "Package", "count", "New"),
    Metric("package_ftd", "Package", "count", "FTD"),
    Metric("package_achievement_pct", "Package", "pct", "Achievement (%)"),
    Metric("package_overall", "Package", "count", "Overall"),
    Metric("package_non_pkg_over_800", "Package", "count", "NonPackage > 800"),
    Metric("package_non_pkg_over_800_undelivered", "Package", "count", "NonPackage > 800 Undelivered"),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


def metrics_of(section: Section) -> tuple[Metric, ...]:
    return tuple(m for m in METRICS if m.section == section)


# --- header matching -----------------------------------------------------------------------------------
# The vendor's column headers vary ("Prev Month" / "Previous Month Revenue", "Tgt vs Ach (%)" /
# "Target vs Ach."); these rules map one header of a section to the metric it carries.


def _norm(header: str) -> str:
    """Lower-case, only letters and digits: "Tgt vs Ach (%)" → "tgtvsach"."""
    return re.sub(r"[^0-9a-z]", "", header.lower())


def _raw(header: str) -> str:
    """Lower-case, entities unescaped, NBSP and all whitespace removed: keeps "(%)" and ">10"."""
    return re.sub(r"\s+", "", html.unescape(header).replace("\xa0", " ").lower())


def _revenue(n: str, r: str) -> str | None:
    if "vsach" in n:
        return "tgt_vs_ach_pct"
    rules = (
        ("prev", "prev_month_revenue"),
        ("extrapolat", "extrapolated_pct"),
        ("growth", "growth_pct"),
        ("lmtd", "lmt_d_revenue"),
        ("mtd", "mtd_revenue"),
        ("monthtodate", "mtd_revenue"),
        ("ftd", "ftd_revenue"),
        ("target", "target_revenue"),
    )
    return next((metric for word, metric in rules if n.startswith(word)), None)


def _pickup(n: str, r: str) -> str | None:
    group = next((g for g in ("new", "existing", "total") if g in n), None)
    if group is None:
        return None
    if "%" in r or "pct" in n or "percentage" in n:
        return f"pickup_{group}_conv_pct"
    if "conv" in n:
        return f"pickup_{group}_conv_count"
    return f"pickup_{group}_count"


def _delivery(n: str, r: str) -> str | None:
    if "undel" in r:
        if ">10" in r:
            return "delivery_undel_over_10_days"
        return "delivery_total_undelivered" if "total" in r else None
    if "tat(%)" in r or "tat%" in r or n == "tatpct":
        return "delivery_tat_pct"
    if "tat" in n:
        return "delivery_within_tat_count"
    if "totalorders" in n:
        return "delivery_total_orders"
    if "delivered" in n:
        return "delivery_total_delivered"
    return None


def _repeat(n: str, r: str) -> str | None:
    if "customer(6monthsago)" in r or "6months" in n:
        return "repeat_customer_base_6m"
    if "totalbase" in n:
        return "repeat_total_base_pct"
    if "repeatorders" in n or "repeatcustomers" in n:
        return "repeat_orders"
    return None


def _package(n: str, r: str) -> str | None:
    if "nonpackage" in n or "nonpkg" in n:
        return "package_non_pkg_over_800_undelivered" if "undelivered" in n else "package_non_pkg_over_800"
    rules = (
        ("achievement", "package_achievement_pct"),
        ("overall", "package_overall"),
        ("ftd", "package_ftd"),
        ("target", "package_target"),
        ("new", "package_new"),
    )
    return next((metric for word, metric in rules if word in n), None)


_MATCHERS: dict[Section, Callable[[str, str], str | None]] = {
    "Revenue": _revenue,
    "Pickup": _pickup,
    "Delivery": _delivery,
    "Repeat Customers": _repeat,
    "Package": _package,
}


def metric_for_header(section: Section, header: str) -> str | None:
    """The metric name a column header of `section` carries, or None for an unrelated column."""
    n, r = _norm(header), _raw(header)
    return _MATCHERS[section](n, r) if n else None
