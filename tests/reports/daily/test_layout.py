"""Render the daily store PDF and read it back with pypdf: text, footer on every page, repeated headers,
AcroForm fields, embedded font."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from crm_core.reports.actions import UndeliveredOrder
from crm_core.reports.daily.data import DailyReportContext
from crm_core.reports.daily.layout import daily_pdf_path, render_daily_pdf
from crm_core.reports.formatting import format_money
from crm_core.reports.sections import (
    MISSED_LEADS_TITLE,
    NO_MISSED_LEADS,
    NO_UNDELIVERED,
    UNDELIVERED_TITLE,
)
from crm_core.store_codes import InvalidStoreCode

MakeContext = Callable[..., DailyReportContext]
FOOTER = "TSV Store Performance Report • Automated dashboard insights • 2025-11-17"


def page_texts(path: Path) -> list[str]:
    """Page texts with whitespace runs collapsed (table cells wrap, so words may sit on two lines)."""
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(path).pages]


def field_names(path: Path) -> list[str]:
    names = []
    for page in PdfReader(path).pages:
        for annot in page.get("/Annots", []) or []:
            obj = annot.get_object()
            if obj.get("/Subtype") == "/Widget":
                names.append(str(obj["/T"]))
    return names


@pytest.fixture
def big_pdf(make_context: MakeContext, tmp_path: Path) -> tuple[DailyReportContext, Path]:
    context = make_context()
    assert len(context.undelivered_orders) == 120 and len(context.missed_leads) == 200
    return context, render_daily_pdf(context, tmp_path / "big.pdf")


def test_path_convention(tmp_path: Path) -> None:
    assert (
        daily_pdf_path(tmp_path, " a817 ", date(2025, 11, 17)) == tmp_path / "2025/daily/A817_2025-11-17.pdf"
    )
    with pytest.raises(InvalidStoreCode):  # a code that is no store code never names a file
        daily_pdf_path(tmp_path, "../x", date(2026, 1, 2))


def test_first_page_shows_header_health_and_figures(big_pdf: tuple[DailyReportContext, Path]) -> None:
    context, path = big_pdf
    first = page_texts(path)[0]
    for expected in (
        "Kirti Nagar Delhi",
        "Store code: A817",
        "Monday, 17 Nov 2025",
        "18 Nov 2025, 07:35 AM IST",
        context.run_id,
        "OVERALL HEALTH",
        "53",
        "Critical",
        "Multiple KPIs triggered alerts; immediate follow-up is required.",
        "Primary KPIs",
        "69%",  # total conversion 68.82
        "65%",
        "74%",
        "12%",
        "42%",
        "Needs Attention",
        "Secondary Indicators",
        "₹1,23,456.50",  # FTD revenue with the rupee glyph and Indian grouping
        "Today's Operating Snapshot",
        "Up by 3 compared to the previous report.",
        "+3",
        "No previous data available for comparison yet.",
    ):
        assert expected in first, expected
    # Section order.
    positions = [
        first.index(s) for s in ("OVERALL HEALTH", "Primary KPIs", "Secondary Indicators", "Operating")
    ]
    assert positions == sorted(positions)
    # The undelivered-snapshot count is a real 0, printed as 0 (line "Undelivered snapshot today\n 0").
    assert re.search(r"Undelivered snapshot today\s+0\b", first)


def test_every_page_has_footer_and_page_number(big_pdf: tuple[DailyReportContext, Path]) -> None:
    _, path = big_pdf
    texts = page_texts(path)
    total = len(texts)
    assert total >= 15  # 320 two-line action rows cannot fit on a few pages
    for number, text in enumerate(texts, start=1):
        assert FOOTER in text, f"page {number} has no footer"
        assert f"Page {number} of {total}" in text, f"page {number} has no page number"


def test_action_lists_are_complete_ordered_and_repeat_headers(
    big_pdf: tuple[DailyReportContext, Path],
) -> None:
    context, path = big_pdf
    texts = page_texts(path)
    whole = "\n".join(texts)
    assert "Recommendations" in whole and "Actions for Today" in whole
    assert whole.index("Recommendations") < whole.index(UNDELIVERED_TITLE) < whole.index(MISSED_LEADS_TITLE)

    undelivered_pages = [t for t in texts if f"{UNDELIVERED_TITLE} (continued)" in t]
    lead_pages = [t for t in texts if f"{MISSED_LEADS_TITLE} (continued)" in t]
    assert len(undelivered_pages) >= 3 and len(lead_pages) >= 5
    for text in undelivered_pages:
        for header in ("S. No.", "Order Info", "Age (days)", "Net Amount"):
            assert header in text
        # A continuation page starts with its title, before any row.
        assert text.index(f"{UNDELIVERED_TITLE} (continued)") < text.index("Delivered")
    for text in lead_pages:
        for header in ("S. No.", "Customer Details", "Customer Type"):
            assert header in text

    for order in context.undelivered_orders:
        assert order.order_id in whole
    first_order, last_order = context.undelivered_orders[0], context.undelivered_orders[-1]
    first_at = re.search(rf"\b{first_order.order_id} ?, ", whole)
    last_at = re.search(rf"\b{last_order.order_id} ?, ", whole)
    assert first_at is not None and last_at is not None and first_at.start() < last_at.start()
    for lead in context.missed_leads:
        assert lead.mobile_number in whole
    total = format_money(context.undelivered_total_net)
    assert total.startswith("₹") and "," in total
    assert f"Total undelivered orders: 120 | Total net amount: {total}" in whole
    assert "Total missed leads: 200" in whole
    assert "N/A" in whole  # the order without a net amount


def test_form_fields_unique_and_counted(big_pdf: tuple[DailyReportContext, Path]) -> None:
    _, path = big_pdf
    names = field_names(path)
    duplicates = [name for name, n in Counter(names).items() if n > 1]
    assert duplicates == []
    kinds = Counter(re.sub(r"_\d+$", "", name) for name in names)
    assert kinds == {
        "undelivered_delivered": 120,
        "undelivered_comment": 120,
        "missed_lead_converted": 200,
        "missed_lead_comment": 200,
    }
    fields = PdfReader(path).get_fields() or {}
    assert len(fields) == 640
    assert fields["undelivered_delivered_1"].get("/FT") == "/Btn"
    assert fields["missed_lead_comment_200"].get("/FT") == "/Tx"
    assert {"undelivered_delivered_120", "missed_lead_converted_1"} <= set(fields)


def test_rupee_font_is_embedded(big_pdf: tuple[DailyReportContext, Path]) -> None:
    _, path = big_pdf
    fonts: set[str] = set()
    for page in PdfReader(path).pages[:1]:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            obj = font.get_object()
            fonts.add(str(obj["/BaseFont"]))
            if "DejaVuSans" in str(obj["/BaseFont"]):
                assert "/FontFile2" in obj["/FontDescriptor"].get_object()  # embedded, not referenced
    assert any("DejaVuSans" in f for f in fonts)


def test_empty_lists_missing_values_and_no_previous(make_context: MakeContext, tmp_path: Path) -> None:
    context = make_context(
        store_name="",
        current={
            **make_context().current,
            "delivery_tat_pct": None,
            "ftd_revenue": None,
            "repeat_orders": None,
        },
        previous=None,
        previous_date=None,
        undelivered_orders=(),
        missed_leads=(),
        repeat_customers_count=None,
    )
    path = render_daily_pdf(context, tmp_path / "empty.pdf")
    texts = page_texts(path)
    whole = "\n".join(texts)
    assert NO_UNDELIVERED in whole and NO_MISSED_LEADS in whole
    assert "Total undelivered orders: 0 | Total net amount: ₹0.00" in whole
    assert "Total missed leads: 0" in whole
    assert "No Data" in whole  # delivery TAT missing
    assert "No previous data available for comparison yet." in whole
    assert "No data captured for this metric today." in whole  # repeat customers missing today
    # Leads still show a T-1 (the day before's pickups): only the counters lack an earlier dashboard.
    assert "no earlier data" not in whole and "T-1 = no earlier dashboard" not in whole
    assert "Leads compare pickup dates 16 Nov 2025 (T-1) and 17 Nov 2025 (T)" in whole
    assert "counters: no earlier dashboard to compare with yet" in whole
    assert re.search(r"Leads captured 5 3 -2 Down by 2 compared", whole)
    assert field_names(path) == []
    assert len(texts) <= 2
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text and FOOTER in text


def test_repeat_customers_fall_back_to_the_repeat_table_count(
    make_context: MakeContext, tmp_path: Path
) -> None:
    context = make_context(
        current={**make_context().current, "repeat_orders": None}, repeat_customers_count=27
    )
    assert context.snapshot[-1].current == 27
    whole = "\n".join(page_texts(render_daily_pdf(context, tmp_path / "r.pdf")))
    assert re.search(r"Repeat customers \(MTD\)\s+N/A\s+27", whole)


def test_long_store_names_wrap_and_only_very_long_ones_are_cut(
    make_context: MakeContext, tmp_path: Path
) -> None:
    two_lines = "Kirti Nagar Delhi Premium Laundry And Dry Cleaning Centre"
    path = render_daily_pdf(
        make_context(store_name=two_lines, undelivered_orders=(), missed_leads=()), tmp_path / "a.pdf"
    )
    assert two_lines in page_texts(path)[0]  # wrapped onto two lines, nothing lost

    huge = "Kirti Nagar Delhi Premium Laundry And Dry Cleaning Experience Centre Near Metro Station Gate 2"
    path = render_daily_pdf(
        make_context(store_name=huge, undelivered_orders=(), missed_leads=()), tmp_path / "b.pdf"
    )
    first = page_texts(path)[0]
    assert "Kirti Nagar Delhi Premium" in first and "…" in first
    assert huge not in first
    # The meta lines move down below the second name line instead of overlapping it.
    ys: dict[str, float] = {}

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        for key in ("…", "Report date"):
            if key in text:
                ys.setdefault(key, float(tm[5]))

    PdfReader(path).pages[0].extract_text(visitor_text=visit)
    assert ys["…"] - ys["Report date"] >= 12


def test_rerender_replaces_the_file_without_leftovers(make_context: MakeContext, tmp_path: Path) -> None:
    path = tmp_path / "2025" / "daily" / "A817_2025-11-17.pdf"
    render_daily_pdf(make_context(missed_leads=()), path)
    render_daily_pdf(make_context(), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["A817_2025-11-17.pdf"]
    assert PdfReader(path).get_fields() is not None


def test_money_with_zero_and_large_amounts(make_context: MakeContext, tmp_path: Path) -> None:
    context = make_context(
        current={**make_context().current, "ftd_revenue": Decimal("0")},
        undelivered_orders=make_context().undelivered_orders[:2],
        missed_leads=(),
    )
    whole = "\n".join(page_texts(render_daily_pdf(context, tmp_path / "z.pdf")))
    assert re.search(r"FTD revenue\s+₹0\.00", whole)


def test_undelivered_sources_ages_and_whole_counts(make_context: MakeContext, tmp_path: Path) -> None:
    """The KPI (dashboard figure) and the list (export) may disagree: each says where it comes from; an
    order not yet due shows when it is due, never a negative age; count changes print whole."""
    due = date(2025, 11, 20)  # three days after the report date
    orders = (
        UndeliveredOrder(
            "T901", date(2025, 11, 1), date(2025, 11, 4), Decimal("500.50"), date(2025, 11, 4), 13
        ),
        UndeliveredOrder("T902", date(2025, 11, 15), due, Decimal("200.00"), due, -3),
        UndeliveredOrder("T903", date(2025, 11, 16), date(2025, 11, 18), None, date(2025, 11, 18), -1),
    )
    current = {**make_context().current, "delivery_undel_over_10_days": 4}
    context = make_context(undelivered_orders=orders, current=current)
    whole = "\n".join(page_texts(render_daily_pdf(context, tmp_path / "u.pdf")))
    assert "due in 3 days" in whole and "due in 1 day" in whole
    assert not re.search(r"Del\. \d{4}-\d{2}-\d{2} -\d", whole)  # no negative age after the dates
    assert "This list is the undelivered orders export" in whole
    assert "(1 more than 10 days late)" in whole
    assert 'The "Undelivered >10 days" KPI (4) is the portal dashboard\'s own figure' in whole
    assert not re.search(r"(Up|Down) by \d+\.0\b", whole)
