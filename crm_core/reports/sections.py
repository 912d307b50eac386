"""The sections a store report is composed of, each drawn at the cursor of a `PagedCanvas`: report header,
health card, KPI table, generic titled table, before/after snapshot table, notes in columns, the two action
lists (undelivered orders, missed leads), notices, a metrics strip and comparison charts. A layout (daily,
weekly, monthly) is a sequence of calls; nothing here knows which report it is in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib.colors import Color, white
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.utils import simpleSplit
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from crm_core.reports.actions import MissedLead, UndeliveredOrder, total_net
from crm_core.reports.formatting import format_count, format_money, format_number
from crm_core.reports.kpis import COLOURS, Health, KpiResult, SnapshotMetric, snapshot_change
from crm_core.reports.styles import (
    BODY,
    BODY_RIGHT,
    CONTENT_RIGHT,
    CONTENT_TOP,
    CONTENT_WIDTH,
    FIELD_BORDER,
    FONT,
    FONT_BOLD,
    FONT_COND,
    FONT_COND_BOLD,
    FONT_ITALIC,
    FORM_FONT,
    GRID,
    HEADER_FILL,
    HEALTH_BG,
    MARGIN,
    MUTED,
    NAVY,
    RECO_FILL,
    RULE,
    TABLE_HEADER,
    TABLE_HEADER_RIGHT,
    TEXT,
    PagedCanvas,
    colour,
    data_table,
    escape,
    fit_font_size,
    fit_text,
    style,
    text_width,
    widths,
)

RIGHT = CONTENT_RIGHT
SECTION_GAP = 16.0
TITLE_HEIGHT = 24.0
LIST_HEADER_HEIGHT = 19.0
NAME_SIZE = 22.0
NAME_WRAP_SIZE = 17.0
OVERDUE_DAYS = 10

UNDELIVERED_TITLE = "Undelivered Orders (Action List)"
MISSED_LEADS_TITLE = "Missed Leads – Not Converted"
NO_UNDELIVERED = "No undelivered orders pending as of this report."
NO_MISSED_LEADS = "No pending missed leads requiring follow-up."

# Row heights of the action lists: with form fields (checkbox + comment line) and without.
UNDELIVERED_ROW = 37.0
MISSED_LEAD_ROW = 47.0
UNDELIVERED_ROW_STATIC = 20.0
MISSED_LEAD_ROW_STATIC = 30.0

Align = Literal["left", "right"]
Cell: TypeAlias = "str | Flowable"


# --- header ------------------------------------------------------------------------------------------


def report_header(
    pc: PagedCanvas,
    *,
    name: str,
    meta: Sequence[tuple[str, str]],
    tagline: Sequence[str] = ("STORE PERFORMANCE REPORT",),
    store_code: str | None = None,
    logo_path: Path | None = None,
) -> None:
    """Store name (wrapped or shrunk to fit), `label: value` meta lines under it, and on the right the logo
    or the tagline (first line bold), then the store code if given; a rule below."""
    c, top = pc.canvas, pc.y
    right_block = 150.0
    if logo_path is not None and logo_path.is_file():
        c.drawImage(
            str(logo_path), RIGHT - 90, top - 40, 90, 40, preserveAspectRatio=True, anchor="ne", mask="auto"
        )
        code_y = top - 52
    else:
        y = top - 11
        for index, line in enumerate(tagline):
            if index == 0:
                c.setFillColor(NAVY)
                c.setFont(FONT_BOLD, 9)
            else:
                c.setFillColor(MUTED)
                c.setFont(FONT, 8.5)
            c.drawRightString(RIGHT, y, line)
            y -= 13
        code_y = y
    if store_code is not None:
        c.setFillColor(MUTED)
        c.setFont(FONT, 8.5)
        c.drawRightString(RIGHT, code_y, f"Store code: {store_code}")

    name_width = CONTENT_WIDTH - right_block - 12
    c.setFillColor(TEXT)
    name_lines = _name_lines(name, name_width)
    size = NAME_SIZE if len(name_lines) == 1 else NAME_WRAP_SIZE
    size = fit_font_size(name_lines[0], FONT_BOLD, size, NAME_WRAP_SIZE, name_width)
    c.setFont(FONT_BOLD, size)
    baseline = top - 20
    for line in name_lines:
        c.drawString(MARGIN, baseline, line)
        baseline -= size * 1.15
    top -= (len(name_lines) - 1) * size * 1.15

    y = top - 38
    for label, value in meta:
        c.setFont(FONT, 9.5)
        c.setFillColor(MUTED)
        c.drawString(MARGIN, y, f"{label}: ")
        c.setFillColor(TEXT)
        offset = text_width(f"{label}: ", FONT, 9.5)
        c.drawString(MARGIN + offset, y, fit_text(value, FONT, 9.5, name_width - offset))
        y -= 13.5
    pc.y = min(y, code_y - 10) - 2
    pc.rule(width=1.2, space_after=14)


def _name_lines(name: str, width: float) -> list[str]:
    """The name on one line (shrunk down to 17 pt), else wrapped on two lines at 17 pt; only a name longer
    than two lines is cut with an ellipsis."""
    if fit_font_size(name, FONT_BOLD, NAME_SIZE, NAME_WRAP_SIZE, width) > NAME_WRAP_SIZE or (
        text_width(name, FONT_BOLD, NAME_WRAP_SIZE) <= width
    ):
        return [name]
    lines = simpleSplit(name, FONT_BOLD, NAME_WRAP_SIZE, width)
    if len(lines) <= 2:
        return list(lines)
    rest = " ".join(lines[1:])
    return [lines[0], fit_text(rest, FONT_BOLD, NAME_WRAP_SIZE, width)]


# --- health ------------------------------------------------------------------------------------------


def health_card(pc: PagedCanvas, health: Health, *, footnote: str) -> None:
    """The score out of 100 on a band-coloured card, with its label and summary sentence."""
    c, height = pc.canvas, 90.0
    pc.ensure(height)
    x0, y0, width = MARGIN, pc.y - height, CONTENT_WIDTH
    accent = colour(health.colour)
    c.saveState()
    c.setFillColor(accent)
    c.roundRect(x0, y0, width, height, 8, stroke=0, fill=1)
    c.setFillColor(HEALTH_BG)
    c.roundRect(x0 + 6, y0, width - 6, height, 8, stroke=0, fill=1)
    c.rect(x0 + 6, y0, 10, height, stroke=0, fill=1)

    c.setFillColor(MUTED)
    c.setFont(FONT_BOLD, 7.5)
    c.drawString(x0 + 24, y0 + height - 20, "OVERALL HEALTH")
    score = str(health.score)
    c.setFillColor(NAVY)
    c.setFont(FONT_BOLD, 46)
    c.drawString(x0 + 22, y0 + 20, score)
    c.setFillColor(MUTED)
    c.setFont(FONT, 10)
    c.drawString(x0 + 26 + text_width(score, FONT_BOLD, 46), y0 + 21, "/ 100")

    divider = x0 + 150
    c.setStrokeColor(colour("#d6e0f5"))
    c.setLineWidth(0.8)
    c.line(divider, y0 + 14, divider, y0 + height - 14)

    text_x = divider + 18
    available = x0 + width - text_x - 16
    c.setFillColor(accent)
    c.setFont(FONT_BOLD, 16)
    c.drawString(text_x, y0 + height - 30, health.label)
    summary = Paragraph(escape(health.summary), style("health-summary", size=10, leading=13))
    _, h = summary.wrapOn(c, available, 40)
    summary.drawOn(c, text_x, y0 + height - 38 - h)
    c.setFillColor(MUTED)
    c.setFont(FONT, 8)
    c.drawString(text_x, y0 + 12, footnote)
    c.restoreState()
    pc.y = y0


def health_footnote(health: Health, kpi_count: int) -> str:
    return f"Mean of {health.kpis_scored} of {kpi_count} primary KPI scores with data"


# --- titles and tables -------------------------------------------------------------------------------


def section_title(pc: PagedCanvas, title: str, keep_with: float) -> None:
    """Section title; moves to a new page with the first `keep_with` points of the section."""
    at_top = pc.y >= CONTENT_TOP - 1
    pc.ensure((0 if at_top else SECTION_GAP) + TITLE_HEIGHT + keep_with)
    if pc.y < CONTENT_TOP - 1:
        pc.y -= SECTION_GAP
    _title_text(pc, title)


def _title_text(pc: PagedCanvas, title: str) -> None:
    c = pc.canvas
    c.setFillColor(TEXT)
    c.setFont(FONT_BOLD, 14)
    c.drawString(MARGIN, pc.y - 14, title)
    pc.y -= TITLE_HEIGHT


def _height(pc: PagedCanvas, flowable: Flowable) -> float:
    return float(flowable.wrapOn(pc.canvas, CONTENT_WIDTH, 10_000)[1])


@dataclass(frozen=True)
class Column:
    """A table column: header text, width as a fraction of the content width, alignment of its cells."""

    header: str
    width: float
    align: Align = "left"


def cell(value: Cell, align: Align = "left") -> Flowable:
    """Text becomes a body paragraph (escaped, aligned); a flowable is used as it is."""
    if isinstance(value, str):
        return Paragraph(escape(value), BODY_RIGHT if align == "right" else BODY)
    return value


def titled_table(
    pc: PagedCanvas,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    caption: str | None = None,
) -> None:
    """A section title, an optional small caption and a grid table; title, caption and table stay on one
    page."""
    header: list[Flowable] = [
        Paragraph(escape(col.header), TABLE_HEADER_RIGHT if col.align == "right" else TABLE_HEADER)
        for col in columns
    ]
    body = [[cell(value, col.align) for value, col in zip(row, columns, strict=True)] for row in rows]
    table = data_table([header, *body], widths(*(col.width for col in columns)))
    if caption is None:
        section_title(pc, title, _height(pc, table))
    else:
        paragraph = Paragraph(escape(caption), style("table-caption", size=8, color=MUTED))
        _, caption_h = paragraph.wrapOn(pc.canvas, CONTENT_WIDTH, 100)
        section_title(pc, title, caption_h + 4 + _height(pc, table))
        pc.draw_paragraph(paragraph, space_after=5)
    pc.draw_table(table)


def status_cell(result: KpiResult) -> Paragraph:
    """A coloured dot and the band label, in the band's colour."""
    band = result.band
    text = f'<font color="{band.colour}">●</font>&nbsp;&nbsp;{escape(band.label)}'
    return Paragraph(text, style("kpi-status", font=FONT_BOLD, color=colour(band.colour)))


def kpi_table(
    pc: PagedCanvas,
    results: Sequence[KpiResult],
    *,
    title: str = "Primary KPIs",
    value_header: str = "Value",
    extra: Sequence[tuple[Column, Sequence[Cell]]] = (),
    column_widths: tuple[float, float, float] = (0.45, 0.20, 0.35),
) -> None:
    """KPI | value | (extra columns, e.g. best and worst day) | status. `extra` gives each added column and
    its cells (one per KPI); `column_widths` are the fractions of the KPI, value and status columns."""
    kpi_w, value_w, status_w = column_widths
    columns = [
        Column("KPI", kpi_w),
        Column(value_header, value_w, "right"),
        *(col for col, _ in extra),
        Column("Status", status_w),
    ]
    rows = [
        [result.label, result.display, *(cells[index] for _, cells in extra), status_cell(result)]
        for index, result in enumerate(results)
    ]
    titled_table(pc, title, columns, rows)


def snapshot_table(
    pc: PagedCanvas,
    title: str,
    metrics: Sequence[SnapshotMetric],
    *,
    caption: str | None = None,
    previous_header: str = "T-1",
    current_header: str = "T",
) -> None:
    """Metric | previous | current | Δ | note, the change coloured by whether it is good news."""
    columns = (
        Column("Metric", 0.30),
        Column(previous_header, 0.09, "right"),
        Column(current_header, 0.09, "right"),
        Column("Δ", 0.09, "right"),
        Column("Note", 0.43),
    )
    rows: list[list[Cell]] = []
    for metric in metrics:
        change = snapshot_change(metric.previous, metric.current, counter_restarted=metric.counter_restarted)
        tone = colour(change.colour)
        rows.append(
            [
                metric.label,
                format_number(metric.previous),
                format_number(metric.current),
                Paragraph(change.delta_text, style("delta", font=FONT_BOLD, color=tone, align=TA_RIGHT)),
                Paragraph(escape(change.note), style("note", size=8.5, color=tone)),
            ]
        )
    titled_table(pc, title, columns, rows, caption=caption)


def notes_columns(pc: PagedCanvas, title: str, columns: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Side-by-side blocks of bullet points on a light fill (e.g. highlights / focus areas / actions)."""
    heading = style("notes-title", font=FONT_BOLD, size=10.5, color=NAVY, spaceAfter=5)
    item_style = style("notes-item", size=9, leading=12, leftIndent=10, bulletIndent=0, spaceAfter=3)
    cells: list[list[Flowable]] = []
    for name, items in columns:
        block: list[Flowable] = [Paragraph(escape(name), heading), Spacer(1, 1)]
        block += [Paragraph(escape(item), item_style, bulletText="•") for item in items]
        cells.append(block)
    table = Table([cells], colWidths=widths(*([1 / len(columns)] * len(columns))))
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), RECO_FILL),
                ("INNERGRID", (0, 0), (-1, -1), 4, white),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 9),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 9),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
                ("RIGHTPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    section_title(pc, title, _height(pc, table))
    pc.draw_table(table)


def notice(pc: PagedCanvas, text: str, *, color: Color = TEXT, bold: bool = False) -> None:
    """A full-width paragraph, e.g. why a report has no figures."""
    paragraph = Paragraph(
        escape(text), style("notice", font=FONT_BOLD if bold else FONT, size=10, color=color)
    )
    pc.draw_paragraph(paragraph, space_after=8)


# --- action lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ListColumn:
    label: str
    x: float
    align: Align = "left"  # left: x is the left edge; right: x is the right edge


def _list_header(pc: PagedCanvas, columns: Sequence[_ListColumn]) -> None:
    c, y = pc.canvas, pc.y
    c.setFillColor(HEADER_FILL)
    c.rect(MARGIN, y - LIST_HEADER_HEIGHT, CONTENT_WIDTH, LIST_HEADER_HEIGHT, stroke=0, fill=1)
    c.setStrokeColor(GRID)
    c.setLineWidth(0.8)
    c.line(MARGIN, y - LIST_HEADER_HEIGHT, RIGHT, y - LIST_HEADER_HEIGHT)
    c.setFillColor(MUTED)
    c.setFont(FONT_BOLD, 8.5)
    for column in columns:
        if column.align == "right":
            c.drawRightString(column.x, y - 13, column.label)
        else:
            c.drawString(column.x, y - 13, column.label)
    pc.y -= LIST_HEADER_HEIGHT


def _action_list(
    pc: PagedCanvas,
    title: str,
    columns: Sequence[_ListColumn],
    row_height: float,
    count: int,
    draw_row: Callable[[int, float], None],
) -> None:
    """Title, column header and rows; a page break repeats the title ("continued") and the header."""
    section_title(pc, title, LIST_HEADER_HEIGHT + (row_height if count else 20))
    _list_header(pc, columns)

    def continued(_pc: PagedCanvas) -> None:
        _title_text(pc, f"{title} (continued)")
        _list_header(pc, columns)

    pc.on_new_page = continued
    try:
        for index in range(count):
            pc.ensure(row_height)
            draw_row(index, pc.y)
            pc.y -= row_height
            pc.canvas.setStrokeColor(GRID)
            pc.canvas.setLineWidth(0.5)
            pc.canvas.line(MARGIN, pc.y, RIGHT, pc.y)
    finally:
        pc.on_new_page = None


def _empty_note(pc: PagedCanvas, text: str) -> None:
    pc.ensure(22)
    pc.canvas.setFillColor(colour("#7f8c8d"))
    pc.canvas.setFont(FONT_ITALIC, 9.5)
    pc.canvas.drawString(MARGIN + 6, pc.y - 15, text)
    pc.y -= 22


def _closing_line(pc: PagedCanvas, text: str) -> None:
    pc.ensure(24)
    pc.canvas.setFillColor(TEXT)
    pc.canvas.setFont(FONT_BOLD, 10)
    pc.canvas.drawString(MARGIN + 6, pc.y - 17, text)
    pc.y -= 24


def _action_widgets(
    pc: PagedCanvas, y: float, *, check_name: str, check_tip: str, label: str, comment_name: str
) -> None:
    """Checkbox + label + full-width comment field, vertically centred on `y`."""
    c, form = pc.canvas, pc.canvas.acroForm
    x = MARGIN + 40
    form.checkbox(
        name=check_name,
        tooltip=check_tip,
        x=x,
        y=y - 6,
        size=12,
        buttonStyle="check",
        borderColor=FIELD_BORDER,
        fillColor=white,
        textColor=NAVY,
        borderWidth=0.8,
        fieldFlags="",
        forceBorder=True,
    )
    c.setFillColor(MUTED)
    c.setFont(FONT, 8)
    c.drawString(x + 16, y - 3, label)
    field_x = x + 16 + text_width(label, FONT, 8) + 10
    form.textfield(
        name=comment_name,
        tooltip="Comments",
        x=field_x,
        y=y - 8,
        width=RIGHT - 6 - field_x,
        height=16,
        fontName=FORM_FONT,
        fontSize=9,
        borderColor=FIELD_BORDER,
        fillColor=white,
        textColor=TEXT,
        borderWidth=0.6,
        maxlen=500,
        forceBorder=True,
    )


def undelivered_list(
    pc: PagedCanvas,
    orders: Sequence[UndeliveredOrder],
    *,
    title: str = UNDELIVERED_TITLE,
    empty_text: str = NO_UNDELIVERED,
    form_fields: bool = True,
    caption: str | None = None,
) -> None:
    """One row per order (serial, id, order and committed dates, age, net amount), then the totals and the
    `caption` (where the list comes from). With `form_fields`, each row has a "Delivered" checkbox and a
    comment field for the store to fill in."""
    age_right = RIGHT - 120
    columns = (
        _ListColumn("S. No.", MARGIN + 6),
        _ListColumn("Order Info", MARGIN + 40),
        _ListColumn("Age (days)", age_right, "right"),
        _ListColumn("Net Amount", RIGHT - 6, "right"),
    )

    def row(index: int, top: float) -> None:
        _undelivered_row(pc, index + 1, orders[index], top, age_right, form_fields)

    height = UNDELIVERED_ROW if form_fields else UNDELIVERED_ROW_STATIC
    _action_list(pc, title, columns, height, len(orders), row)
    if not orders:
        _empty_note(pc, empty_text)
    _closing_line(
        pc,
        f"Total undelivered orders: {format_count(len(orders))}    |    "
        f"Total net amount: {format_money(total_net(orders))}",
    )
    if caption:
        notice(pc, caption, color=MUTED)


def age_text(age_days: int | None) -> str:
    """Days past the committed date; an order not yet due says when it is due instead of a negative age."""
    if age_days is None:
        return "—"
    if age_days < 0:
        return f"due in {-age_days} day{'s' if age_days != -1 else ''}"
    return str(age_days)


def _undelivered_row(
    pc: PagedCanvas, serial: int, order: UndeliveredOrder, top: float, age_right: float, form_fields: bool
) -> None:
    c = pc.canvas
    base = top - 13
    c.setFillColor(MUTED)
    c.setFont(FONT, 9)
    c.drawString(MARGIN + 6, base, str(serial))
    info_x = MARGIN + 40
    c.setFillColor(TEXT)
    c.setFont(FONT_BOLD, 9.5)
    order_id = fit_text(order.order_id, FONT_BOLD, 9.5, 120)
    c.drawString(info_x, base, order_id)
    rest = (
        f", {order.order_date.isoformat() if order.order_date else 'N/A'}, "
        f"Del. {order.committed_date.isoformat() if order.committed_date else 'N/A'}"
    )
    c.setFont(FONT, 9.5)
    c.drawString(info_x + text_width(order_id, FONT_BOLD, 9.5), base, rest)
    # Overdue ages stand out (red beyond 10 days, orange when late); not-yet-due ones recede.
    age_colour, age_font = MUTED, FONT
    if order.age_days is not None and order.age_days > OVERDUE_DAYS:
        age_colour, age_font = colour(COLOURS["critical"]), FONT_BOLD
    elif order.age_days is not None and order.age_days > 0:
        age_colour, age_font = colour(COLOURS["warning"]), FONT_BOLD
    elif order.age_days == 0:
        age_colour, age_font = TEXT, FONT_BOLD
    c.setFillColor(age_colour)
    c.setFont(age_font, 9.5)
    c.drawRightString(age_right, base, age_text(order.age_days))
    c.setFillColor(TEXT)
    c.setFont(FONT, 9.5)
    c.drawRightString(RIGHT - 6, base, format_money(order.net_amount))
    if form_fields:
        _action_widgets(
            pc,
            top - 25.5,
            check_name=f"undelivered_delivered_{serial}",
            check_tip="Delivered?",
            label="Delivered",
            comment_name=f"undelivered_comment_{serial}",
        )


def missed_leads_list(
    pc: PagedCanvas,
    leads: Sequence[MissedLead],
    *,
    title: str = MISSED_LEADS_TITLE,
    empty_text: str = NO_MISSED_LEADS,
    form_fields: bool = True,
) -> None:
    """One row per lead (serial, phone and name, created / pickup / source, customer type), then the
    total. With `form_fields`, each row has a "Converted" checkbox and a comment field."""
    type_x = RIGHT - 84
    columns = (
        _ListColumn("S. No.", MARGIN + 6),
        _ListColumn("Customer Details", MARGIN + 40),
        _ListColumn("Customer Type", type_x),
    )

    def row(index: int, top: float) -> None:
        _missed_lead_row(pc, index + 1, leads[index], top, type_x, form_fields)

    height = MISSED_LEAD_ROW if form_fields else MISSED_LEAD_ROW_STATIC
    _action_list(pc, title, columns, height, len(leads), row)
    if not leads:
        _empty_note(pc, empty_text)
    _closing_line(pc, f"Total missed leads: {format_count(len(leads))}")


def _missed_lead_row(
    pc: PagedCanvas, serial: int, lead: MissedLead, top: float, type_x: float, form_fields: bool
) -> None:
    c = pc.canvas
    base = top - 13
    info_x = MARGIN + 40
    width = type_x - info_x - 10
    c.setFillColor(MUTED)
    c.setFont(FONT, 9)
    c.drawString(MARGIN + 6, base, str(serial))
    phone = lead.mobile_number or "N/A"
    c.setFillColor(TEXT)
    c.setFont(FONT_BOLD, 9.5)
    c.drawString(info_x, base, phone)
    name = (lead.customer_name or "").strip() or "(no name)"
    offset = text_width(phone, FONT_BOLD, 9.5)
    c.setFont(FONT, 9.5)
    c.drawString(info_x + offset, base, fit_text(f", {name}", FONT, 9.5, width - offset))
    details = ", ".join(
        part
        for part in (
            f"created {lead.pickup_created}" if lead.pickup_created else "",
            f"pickup {lead.pickup_slot}" if lead.pickup_slot else "",
            lead.source or "",
        )
        if part
    )
    c.setFillColor(MUTED)
    c.setFont(FONT_COND, 8.5)
    c.drawString(info_x, base - 11.5, fit_text(details, FONT_COND, 8.5, width))
    c.setFillColor(TEXT)
    c.setFont(FONT_COND_BOLD, 9.5)
    c.drawString(type_x, base, fit_text(lead.customer_type or "N/A", FONT_COND_BOLD, 9.5, RIGHT - type_x - 4))
    if form_fields:
        _action_widgets(
            pc,
            top - 36,
            check_name=f"missed_lead_converted_{serial}",
            check_tip="Lead converted?",
            label="Converted",
            comment_name=f"missed_lead_comment_{serial}",
        )


# --- metrics strip -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One figure of a metrics strip: a small caps label, the value, a muted line under it."""

    label: str
    value: str
    sub: str = ""


STRIP_HEIGHT = 58.0


def metrics_strip(pc: PagedCanvas, tiles: Sequence[Tile]) -> None:
    """Tiles side by side on a light fill, each with a navy accent on top."""
    c, gap = pc.canvas, 6.0
    pc.ensure(SECTION_GAP + STRIP_HEIGHT)
    pc.y -= SECTION_GAP
    width = (CONTENT_WIDTH - gap * (len(tiles) - 1)) / max(len(tiles), 1)
    y0 = pc.y - STRIP_HEIGHT
    for index, tile in enumerate(tiles):
        x0 = MARGIN + index * (width + gap)
        c.saveState()
        c.setFillColor(HEALTH_BG)
        c.roundRect(x0, y0, width, STRIP_HEIGHT, 5, stroke=0, fill=1)
        c.setFillColor(NAVY)
        c.rect(x0 + 5, y0 + STRIP_HEIGHT - 2.5, width - 10, 2.5, stroke=0, fill=1)
        c.setFillColor(MUTED)
        c.setFont(FONT_BOLD, 7)
        c.drawString(x0 + 8, y0 + STRIP_HEIGHT - 15, fit_text(tile.label.upper(), FONT_BOLD, 7, width - 16))
        size = fit_font_size(tile.value, FONT_BOLD, 15, 9, width - 16)
        c.setFillColor(TEXT)
        c.setFont(FONT_BOLD, size)
        c.drawString(x0 + 8, y0 + 20, tile.value)
        c.setFillColor(MUTED)
        c.setFont(FONT, 7.5)
        c.drawString(x0 + 8, y0 + 8, fit_text(tile.sub, FONT, 7.5, width - 16))
        c.restoreState()
    pc.y = y0


# --- charts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartSeries:
    """One line or set of bars: a legend name, one value per category (None: no figure), a colour."""

    name: str
    values: Sequence[float | None]
    colour: str


@dataclass(frozen=True)
class ChartPanel:
    title: str
    series: Sequence[ChartSeries]
    kind: Literal["bar", "line"] = "bar"


CHART_HEIGHT = 175.0


def _axis_label(value: float) -> str:
    """Short tick labels: 1.2L (lakh), 45K, 300."""
    magnitude = abs(value)
    if magnitude >= 100_000:
        return f"{value / 100_000:.1f}L".replace(".0L", "L")
    if magnitude >= 1_000:
        return f"{value / 1_000:.1f}K".replace(".0K", "K")
    return f"{value:.0f}"


def _chart_drawing(panel: ChartPanel, categories: Sequence[str], width: float) -> Drawing:
    drawing = Drawing(width, CHART_HEIGHT)
    drawing.add(String(0, CHART_HEIGHT - 11, panel.title, fontName=FONT_BOLD, fontSize=9, fillColor=NAVY))
    data = [[v for v in s.values] for s in panel.series]
    known = [v for s in data for v in s if v is not None]
    top = max(known, default=0.0)
    chart: VerticalBarChart | HorizontalLineChart
    chart = VerticalBarChart() if panel.kind == "bar" else HorizontalLineChart()
    chart.x, chart.y = 34, 40
    chart.width, chart.height = width - 44, CHART_HEIGHT - 70
    chart.data = [[v if v is not None else None for v in s] for s in data]
    chart.categoryAxis.categoryNames = list(categories)
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.strokeColor = GRID
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top * 1.15 if top > 0 else 1
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = _axis_label
    chart.valueAxis.strokeColor = GRID
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = RULE
    if top <= 5:
        chart.valueAxis.valueStep = 1
    for index, series in enumerate(panel.series):
        if isinstance(chart, VerticalBarChart):
            chart.bars[index].fillColor = colour(series.colour)
            chart.bars[index].strokeColor = None
        else:
            chart.lines[index].strokeColor = colour(series.colour)
            chart.lines[index].strokeWidth = 2 if index == 0 else 1.2
            chart.lines[index].symbol = makeMarker("FilledCircle", size=3.5, fillColor=colour(series.colour))
    if isinstance(chart, VerticalBarChart):
        chart.barSpacing = 1
        chart.groupSpacing = 6
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 34, 12
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontName = FONT
    legend.fontSize = 7.5
    legend.dx = legend.dy = 7
    legend.deltax = 90
    legend.colorNamePairs = [(colour(s.colour), s.name) for s in panel.series]
    drawing.add(legend)
    return drawing


def comparison_charts(
    pc: PagedCanvas,
    title: str,
    categories: Sequence[str],
    panels: Sequence[ChartPanel],
    *,
    caption: str | None = None,
) -> None:
    """A section title and charts side by side (e.g. this period against the previous one)."""
    gap = 18.0
    width = (CONTENT_WIDTH - gap * (len(panels) - 1)) / max(len(panels), 1)
    caption_h = 0.0
    paragraph = None
    if caption is not None:
        paragraph = Paragraph(escape(caption), style("chart-caption", size=8, color=MUTED))
        caption_h = paragraph.wrapOn(pc.canvas, CONTENT_WIDTH, 100)[1] + 4
    section_title(pc, title, CHART_HEIGHT + caption_h)
    if paragraph is not None:
        pc.draw_paragraph(paragraph, space_after=4)
    for index, panel in enumerate(panels):
        drawing = _chart_drawing(panel, categories, width)
        renderPDF.draw(drawing, pc.canvas, MARGIN + index * (width + gap), pc.y - CHART_HEIGHT)
    pc.y -= CHART_HEIGHT
