"""Dashboard parsing over every variant, without a browser."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crm_core.dashboard import METRICS, metric_for_header
from crm_core.portal.dashboard_parser import NumberError, parse_dashboard, parse_dashboard_date, parse_number
from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.app import SandboxState, _dashboard_page
from crm_core.portal.sandbox.faults import FaultBoard

DAY = date(2025, 11, 19)


def render(store: str = "A817", *faults: str) -> str:
    state = SandboxState(dashboard_date=DAY, faults=FaultBoard())
    for spec in faults:
        state.faults.add(spec)
    return _dashboard_page(state, store, lambda name: state.faults.take(name, store, "dashboard"))


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("₹ 2,45,300", "money", Decimal("245300.00")),
        ("1,23,45,678.5", "money", Decimal("12345678.50")),
        ("68.82%", "pct", Decimal("68.82")),
        ("-5.39 %", "pct", Decimal("-5.39")),
        ("41 View", "count", 41),
        ("12345.0", "count", 12345),
        ("-", "count", None),
        ("--", "money", None),
        ("N/A", "pct", None),
        ("na", "pct", None),
        ("", "money", None),
        ("₹ 2.45 L", "money", Decimal("245000.00")),
        ("₹3.4 Cr", "money", Decimal("34000000.00")),
        ("Rs 1,200/-", "money", Decimal("1200.00")),
        ("1.2 Crore", "money", Decimal("12000000.00")),
        ("3 Lacs", "money", Decimal("300000.00")),
        ("2.5 lakhs", "money", Decimal("250000.00")),
        ("\u22125.39%", "pct", Decimal("-5.39")),
        ("—", "money", None),
        ("–", "count", None),
        ("N.A.", "pct", None),
    ],
)
def test_parse_number(text: str, kind: str, expected: object) -> None:
    assert parse_number(text, kind) == expected  # type: ignore[arg-type]


def test_parse_number_rejects_text() -> None:
    with pytest.raises(NumberError, match="abc"):
        parse_number("abc", "money")
    with pytest.raises(NumberError, match="not a whole count"):
        parse_number("12.7", "count")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dashboard Date: 19 Nov 2025", DAY),
        ("dashboard date - 19 November 2025", DAY),
        ("19 Nov 2025", DAY),
        ("Dashboard Date: sometime", None),
        ("Dashboard Date: 31 Foo 2025", None),
    ],
)
def test_parse_dashboard_date(text: str, expected: date | None) -> None:
    assert parse_dashboard_date(text) == expected


def test_every_metric_label_and_variants_match_their_metric() -> None:
    for metric in METRICS:
        assert metric_for_header(metric.section, metric.label) == metric.name
    assert metric_for_header("Revenue", "Target vs Ach.") == "tgt_vs_ach_pct"
    assert metric_for_header("Revenue", "Previous Month") == "prev_month_revenue"
    assert metric_for_header("Revenue", "Month to date") == "mtd_revenue"
    assert metric_for_header("Pickup", "New Conversion Percentage") == "pickup_new_conv_pct"
    assert metric_for_header("Delivery", "Undel.&nbsp;&gt;10 Days") == "delivery_undel_over_10_days"
    assert metric_for_header("Delivery", "TAT%") == "delivery_tat_pct"
    assert metric_for_header("Delivery", "Delivered") == "delivery_total_delivered"
    assert metric_for_header("Package", "NonPkg > 800 Undelivered") == "package_non_pkg_over_800_undelivered"
    assert metric_for_header("Revenue", "Remarks") is None


def test_standard_page_gives_every_field() -> None:
    figures = parse_dashboard(render("A817"), "A817")
    assert figures.warnings == []
    assert figures.dashboard_date == DAY
    assert figures.store_name == "KIRTI NAGAR DELHI"
    assert figures.gstin == data.gstin("A817") and len(figures.gstin) == 15
    assert figures.launch_date == data.launch_date("A817")
    expected = data.store_day("A817", DAY).metrics
    assert figures.metrics == {name: expected[name] for name in figures.metrics}


def test_header_variants_parse_the_same_values() -> None:
    assert parse_dashboard(render("A668", "header_variants"), "A668").metrics == (
        parse_dashboard(render("A668"), "A668").metrics
    )


def test_lakh_amounts_are_accepted() -> None:
    figures = parse_dashboard(render("A668", "lakh"), "A668")
    expected = data.store_day("A668", DAY).metrics["target_revenue"]
    assert (
        figures.metrics["target_revenue"] == (Decimal(expected) / 100_000).quantize(Decimal("0.01")) * 100_000
    )
    assert figures.warnings == []


def test_dash_and_na_cells_become_null_and_the_rest_parse() -> None:
    figures = parse_dashboard(render("A526", "na_cells"), "A526")
    assert figures.metrics["target_revenue"] is None  # second Revenue column shows "-"
    assert figures.metrics["pickup_new_conv_count"] is None
    assert figures.metrics["mtd_revenue"] is not None
    assert figures.warnings == []


@pytest.mark.parametrize("section", ["Revenue", "Pickup", "Delivery", "Repeat Customers", "Package"])
def test_missing_section_is_one_warning_and_nulls(section: str) -> None:
    figures = parse_dashboard(render("A668", f"missing_section={section}"), "A668")
    assert figures.missing_sections == [section]
    assert figures.warnings == [f"dashboard section missing: {section}"]
    assert all(
        v is None
        for m, v in figures.metrics.items()
        if next(x for x in METRICS if x.name == m).section == section
    )
    assert sum(v is not None for v in figures.metrics.values()) > 20


def test_unparseable_date_is_a_warning() -> None:
    figures = parse_dashboard(render("A668", "bad_date"), "A668")
    assert figures.dashboard_date is None
    assert any("dashboard date unparseable" in w for w in figures.warnings)


VERTICAL = """
<nav><ul><li class="user_bit"><a>Partner  <b>not-a-gstin</b></a></li></ul></nav>
<h1 class="dashboard-title">Dashboard<br>A999 Store<br>ROHINI DELHI</h1>
<div><h3 class="section-title">Launch Date</h3></div><p>05/03/2021</p>
<h3 class="section-title">Revenue Summary</h3>
<table class="table"><tbody>
<tr><td>Prev Month</td><td>₹ 1,00,000</td></tr><tr><td>MTD</td><td>50,000</td></tr>
<tr><td>Tgt vs Ach (%)</td><td>12.50%</td></tr><tr><td>Growth</td><td>1.2 crore</td></tr>
</tbody></table>
<h3 class="section-title">Delivery</h3>
<table class="table table-bordered"><tr><th>Total Orders</th><th>Undel. &gt; 10 Days</th></tr>
<tr><td>10</td><td>3 orders</td></tr></table>
"""


def test_vertical_revenue_two_line_title_and_bad_values() -> None:
    figures = parse_dashboard(VERTICAL, "A999")
    assert figures.dashboard_date is None  # last title line is not a date
    assert figures.store_name is None or "A999" not in figures.store_name
    assert figures.gstin is None and "GSTIN not found in the navbar" in figures.warnings
    assert figures.launch_date == date(2021, 3, 5)
    assert figures.metrics["prev_month_revenue"] == Decimal("100000.00")
    assert figures.metrics["mtd_revenue"] == Decimal("50000.00")
    assert figures.metrics["tgt_vs_ach_pct"] == Decimal("12.50")
    assert figures.metrics["growth_pct"] is None
    assert any("growth_pct unparseable" in w for w in figures.warnings)
    assert figures.metrics["delivery_total_orders"] == 10
    assert figures.metrics["delivery_undel_over_10_days"] == 3
    assert "dashboard metric missing: delivery_tat_pct" in figures.warnings
    assert {"Pickup", "Repeat Customers", "Package"} <= set(figures.missing_sections)


def test_values_that_do_not_fit_their_column_are_stored_as_unknown_with_a_warning() -> None:
    from crm_core.dashboard import fits_column

    page = render("A817")
    growth = parse_dashboard(page, "A817").metrics["growth_pct"]
    shown = f"{growth:.2f}%"
    assert shown in page
    figures = parse_dashboard(page.replace(shown, "24430.00%", 1), "A817")
    assert figures.metrics["growth_pct"] is None
    assert figures.warnings == ["dashboard metric growth_pct out of the stored range: 24430.00"]

    assert fits_column("pct", Decimal("9999.99")) and not fits_column("pct", Decimal("24430"))
    assert fits_column("money", Decimal("999999999999.99")) and not fits_column("money", Decimal("1e12"))
    assert fits_column("count", 2**31 - 1) and not fits_column("count", 2**31)


@pytest.mark.parametrize("depth", [1500, 3000, 20000])
def test_a_page_nested_thousands_deep_is_read_without_recursion(depth: int) -> None:
    page = render("A817")
    head, _, rest = page.partition("<body>")
    html = head + "<body>" + "<div>" * depth + rest.replace("</body>", "</div>" * depth + "</body>")
    figures = parse_dashboard(html, "A817")
    assert figures.warnings == [] and figures.metrics == parse_dashboard(page, "A817").metrics
    assert figures.found_metrics == len(METRICS)
