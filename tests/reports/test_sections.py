"""The shared sections drawn into real PDFs, outside the daily layout: the parameters a weekly or monthly
layout needs (extra KPI columns, captions, static action lists, no store code) and read back with pypdf."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from crm_core.reports.actions import MissedLead, UndeliveredOrder
from crm_core.reports.kpis import PERIOD_WORDING, SnapshotMetric, evaluate_kpis, overall_health
from crm_core.reports.sections import (
    Column,
    health_card,
    health_footnote,
    kpi_table,
    missed_leads_list,
    notes_columns,
    notice,
    report_header,
    snapshot_table,
    titled_table,
    undelivered_list,
)
from crm_core.reports.styles import PagedCanvas, render_pdf

Draw = Callable[[PagedCanvas], None]


def render(tmp_path: Path, draw: Draw) -> Path:
    path = tmp_path / "sections.pdf"
    render_pdf(draw, path, title="t", footer_text="Section test footer")
    return path


def text_of(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(path).pages))


def widgets(path: Path) -> list[str]:
    return [
        str(annot.get_object()["/T"])
        for page in PdfReader(path).pages
        for annot in page.get("/Annots", []) or []
        if annot.get_object().get("/Subtype") == "/Widget"
    ]


ORDERS = [
    UndeliveredOrder(f"T{i}", date(2025, 11, 1), None, Decimal("100.50"), date(2025, 11, 4), 12 - i)
    for i in range(3)
]
LEADS = [
    MissedLead(f"P{i}", f"98000000{i:02d}", "Priya", date(2025, 11, 1), "10:00:00", None, None, "App", "New")
    for i in range(2)
]


def test_period_header_kpi_table_and_health(tmp_path: Path) -> None:
    results = evaluate_kpis(
        {"pickup_conversion_total_pct": Decimal("71.4"), "undelivered_10_plus_count": 2.5}
    )
    health = overall_health(results, PERIOD_WORDING)

    def draw(pc: PagedCanvas) -> None:
        report_header(
            pc,
            name="Kirti Nagar Delhi",
            tagline=("STORE PERFORMANCE REPORT", "Weekly report"),
            meta=(("Last Week", "10 Nov 2025 – 16 Nov 2025"), ("Run ID", "abc")),
        )
        health_card(pc, health, footnote=health_footnote(health, len(results)))
        kpi_table(
            pc,
            results,
            value_header="Average",
            extra=(
                (Column("Best day", 0.15, "right"), ["14 Nov"] * len(results)),
                (Column("Worst day", 0.15, "right"), ["11 Nov"] * len(results)),
            ),
            column_widths=(0.30, 0.12, 0.28),
        )

    text = text_of(render(tmp_path, draw))
    assert "Store code" not in text  # a period report shows no store code
    assert "Weekly report" in text and "Last Week: 10 Nov 2025 – 16 Nov 2025" in text
    assert "KPI Average Best day Worst day Status" in text
    # A period average of a count keeps its decimal; the band follows the average.
    assert "Undelivered >10 days 2.5 14 Nov 11 Nov ● Needs Attention" in text
    assert "Pickup conversion (total) 71% 14 Nov 11 Nov ● Good" in text
    assert health.summary in text and "Mean of 2 of 7 primary KPI scores with data" in text


def test_kpi_table_needs_one_extra_cell_per_kpi(tmp_path: Path) -> None:
    results = evaluate_kpis({})

    def draw(pc: PagedCanvas) -> None:
        kpi_table(pc, results, extra=((Column("Best day", 0.1), ["only one"]),))

    with pytest.raises(IndexError):
        render(tmp_path, draw)


def test_titled_table_caption_escaping_and_snapshot(tmp_path: Path) -> None:
    def draw(pc: PagedCanvas) -> None:
        titled_table(
            pc,
            "Volume & Mix",
            (Column("Metric", 0.6), Column("Week", 0.4, "right")),
            [("Orders <₹800 & more", "1,234"), ("Leads", "0")],
            caption="6 of 7 days ingested",
        )
        snapshot_table(
            pc,
            "Week over Week",
            [SnapshotMetric("Pickups", 90, 93), SnapshotMetric("Deliveries", 80, 79)],
            previous_header="Last week",
            current_header="This week",
        )
        notes_columns(pc, "Highlights", [("Wins", ["Conversion held"]), ("Risks", ["Backlog > 5"])])
        notice(pc, "No dashboard data was found for this period.", bold=True)

    text = text_of(render(tmp_path, draw))
    assert "Volume & Mix 6 of 7 days ingested Metric Week Orders <₹800 & more 1,234 Leads 0" in text
    assert "Metric Last week This week Δ Note Pickups 90 93 +3 Up by 3 compared" in text
    assert "Deliveries 80 79 -1 Down by 1 compared" in text
    assert re.search(r"Wins \W*Conversion held Risks \W*Backlog > 5", text)
    assert "No dashboard data was found for this period." in text


def test_titled_table_refuses_rows_of_the_wrong_width(tmp_path: Path) -> None:
    def draw(pc: PagedCanvas) -> None:
        titled_table(pc, "T", (Column("A", 0.5), Column("B", 0.5)), [("only a",)])

    with pytest.raises(ValueError):
        render(tmp_path, draw)


@pytest.mark.parametrize("form_fields", [True, False])
def test_action_lists_with_and_without_form_fields(tmp_path: Path, form_fields: bool) -> None:
    def draw(pc: PagedCanvas) -> None:
        undelivered_list(pc, ORDERS, title="Undelivered Backlog", form_fields=form_fields)
        missed_leads_list(pc, LEADS, title="Open Missed Leads", form_fields=form_fields)

    path = render(tmp_path, draw)
    text = text_of(path)
    assert "Undelivered Backlog" in text and "Open Missed Leads" in text
    assert "Total undelivered orders: 3 | Total net amount: ₹301.50" in text
    assert "Total missed leads: 2" in text
    expected = (
        [
            "undelivered_delivered_1",
            "undelivered_comment_1",
            "undelivered_delivered_2",
            "undelivered_comment_2",
            "undelivered_delivered_3",
            "undelivered_comment_3",
            "missed_lead_converted_1",
            "missed_lead_comment_1",
            "missed_lead_converted_2",
            "missed_lead_comment_2",
        ]
        if form_fields
        else []
    )
    assert widgets(path) == expected
    assert ("Delivered" in text.replace("Del. ", "")) is form_fields
