"""The daily per-store PDF (DOMAIN B7.7 with the fixes of A6), drawn with reportlab.

Sections, top to bottom: header, overall health, Primary KPIs, Secondary Indicators, Today's Operating
Snapshot (T-1 | T | Δ | Note), Recommendations, Undelivered Orders and Missed Leads action lists (each row
with an AcroForm checkbox and comment field), and on every page a footer with "Page N of M".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib.colors import white
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.utils import simpleSplit
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from crm_core.reports.daily_data import DailyReportContext, MissedLead, UndeliveredOrder
from crm_core.reports.formatting import (
    format_count,
    format_date,
    format_money,
    format_number,
    format_timestamp,
)
from crm_core.reports.kpis import (
    COLOURS,
    evaluate_kpis,
    overall_health,
    recommendations,
    snapshot_change,
)
from crm_core.reports.styles import (
    BODY,
    BODY_RIGHT,
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
    TABLE_HEADER,
    TABLE_HEADER_RIGHT,
    TEXT,
    PagedCanvas,
    colour,
    data_table,
    escape,
    fit_font_size,
    fit_text,
    register_fonts,
    render_two_pass,
    style,
    text_width,
)

FOOTER_SENTENCE = "TSV Store Performance Report • Automated dashboard insights • {date}"
UNDELIVERED_TITLE = "Undelivered Orders (Action List)"
MISSED_LEADS_TITLE = "Missed Leads – Not Converted"
NO_UNDELIVERED = "No undelivered orders pending as of this report."
NO_MISSED_LEADS = "No pending missed leads requiring follow-up."

RIGHT = MARGIN + CONTENT_WIDTH
SECTION_GAP = 16.0
TITLE_HEIGHT = 24.0
LIST_HEADER_HEIGHT = 19.0
UNDELIVERED_ROW = 37.0
MISSED_LEAD_ROW = 47.0
OVERDUE_DAYS = 10
NAME_WRAP_SIZE = 17.0


def daily_pdf_path(reports_dir: Path, store_code: str, report_date: date) -> Path:
    """`<REPORTS_DIR>/<YYYY>/daily/<STORE_CODE>_<YYYY-MM-DD>.pdf` (A6); the code is upper-cased and made
    safe as a file name."""
    code = re.sub(r"[^A-Z0-9_-]", "_", store_code.strip().upper()) or "UNKNOWN"
    return reports_dir / f"{report_date:%Y}" / "daily" / f"{code}_{report_date.isoformat()}.pdf"


def render_daily_pdf(context: DailyReportContext, path: Path) -> Path:
    """Write the store's daily PDF to `path` (replacing an earlier one atomically) and return the path."""
    register_fonts()
    render_two_pass(
        lambda pc: _DailyLayout(context, pc).draw(),
        path,
        title=f"Store Daily Report - {context.store_name}",
        subject=f"Daily store performance report for {context.store_code}, {context.report_date.isoformat()}",
        footer_text=FOOTER_SENTENCE.format(date=context.report_date.isoformat()),
    )
    return path


@dataclass(frozen=True)
class _Column:
    label: str
    x: float
    align: str = "left"  # left: x is the left edge; right: x is the right edge


class _DailyLayout:
    def __init__(self, context: DailyReportContext, pc: PagedCanvas) -> None:
        self.ctx = context
        self.pc = pc
        self.c = pc.canvas
        self.kpis = evaluate_kpis(context.kpi_values)
        self.health = overall_health(self.kpis)

    def draw(self) -> None:
        self.header()
        self.health_block()
        self.primary_kpis()
        self.secondary_indicators()
        self.operating_snapshot()
        self.recommendations()
        self.undelivered_orders()
        self.missed_leads()

    # --- header and health ------------------------------------------------------------------------------

    def header(self) -> None:
        c, ctx, top = self.c, self.ctx, self.pc.y
        right_block = 150.0
        if ctx.logo_path is not None and ctx.logo_path.is_file():
            c.drawImage(
                str(ctx.logo_path),
                RIGHT - 90,
                top - 40,
                90,
                40,
                preserveAspectRatio=True,
                anchor="ne",
                mask="auto",
            )
            code_y = top - 52
        else:
            c.setFillColor(NAVY)
            c.setFont(FONT_BOLD, 9)
            c.drawRightString(RIGHT, top - 11, "STORE PERFORMANCE REPORT")
            c.setFillColor(MUTED)
            c.setFont(FONT, 8.5)
            c.drawRightString(RIGHT, top - 24, "Daily report")
            code_y = top - 37
        c.setFillColor(MUTED)
        c.setFont(FONT, 8.5)
        c.drawRightString(RIGHT, code_y, f"Store code: {ctx.store_code}")

        name_width = CONTENT_WIDTH - right_block - 12
        c.setFillColor(TEXT)
        name_lines = _name_lines(ctx.store_name, name_width)
        size = 22.0 if len(name_lines) == 1 else NAME_WRAP_SIZE
        size = fit_font_size(name_lines[0], FONT_BOLD, size, NAME_WRAP_SIZE, name_width)
        c.setFont(FONT_BOLD, size)
        baseline = top - 20
        for line in name_lines:
            c.drawString(MARGIN, baseline, line)
            baseline -= size * 1.15
        top -= (len(name_lines) - 1) * size * 1.15

        zone = ZoneInfo(ctx.timezone)
        meta = (
            ("Report date", f"{ctx.report_date:%A}, {format_date(ctx.report_date)}"),
            ("Generated at", format_timestamp(ctx.generated_at, zone)),
            ("Run ID", ctx.run_id),
        )
        y = top - 38
        for label, value in meta:
            c.setFont(FONT, 9.5)
            c.setFillColor(MUTED)
            c.drawString(MARGIN, y, f"{label}: ")
            c.setFillColor(TEXT)
            offset = text_width(f"{label}: ", FONT, 9.5)
            c.drawString(MARGIN + offset, y, fit_text(value, FONT, 9.5, name_width - offset))
            y -= 13.5
        self.pc.y = min(y, code_y - 10) - 2
        self.pc.rule(width=1.2, space_after=14)

    def health_block(self) -> None:
        c, health, height = self.c, self.health, 90.0
        self.pc.ensure(height)
        x0, y0, width = MARGIN, self.pc.y - height, CONTENT_WIDTH
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
        text_width_available = x0 + width - text_x - 16
        c.setFillColor(accent)
        c.setFont(FONT_BOLD, 16)
        c.drawString(text_x, y0 + height - 30, health.label)
        summary = Paragraph(escape(health.summary), style("health-summary", size=10, leading=13))
        _, h = summary.wrapOn(c, text_width_available, 40)
        summary.drawOn(c, text_x, y0 + height - 38 - h)
        c.setFillColor(MUTED)
        c.setFont(FONT, 8)
        c.drawString(
            text_x, y0 + 12, f"Mean of {health.kpis_scored} of {len(self.kpis)} primary KPI scores with data"
        )
        c.restoreState()
        self.pc.y = y0

    # --- tables -----------------------------------------------------------------------------------------

    def section_title(self, title: str, keep_with: float) -> None:
        """Section title; moves to a new page with the first `keep_with` points of the section."""
        at_top = self.pc.y >= CONTENT_TOP - 1
        self.pc.ensure((0 if at_top else SECTION_GAP) + TITLE_HEIGHT + keep_with)
        if self.pc.y < CONTENT_TOP - 1:
            self.pc.y -= SECTION_GAP
        self._title_text(title)

    def _title_text(self, title: str) -> None:
        c = self.c
        c.setFillColor(TEXT)
        c.setFont(FONT_BOLD, 14)
        c.drawString(MARGIN, self.pc.y - 14, title)
        self.pc.y -= TITLE_HEIGHT

    def _table_height(self, table: Table) -> float:
        return float(table.wrapOn(self.c, CONTENT_WIDTH, 10_000)[1])

    def primary_kpis(self) -> None:
        status_style = style("kpi-status", font=FONT_BOLD)
        rows: list[list[object]] = [
            [
                Paragraph("KPI", TABLE_HEADER),
                Paragraph("Value", TABLE_HEADER_RIGHT),
                Paragraph("Status", TABLE_HEADER),
            ]
        ]
        for kpi in self.kpis:
            status = f'<font color="{kpi.band.colour}">●</font>&nbsp;&nbsp;{escape(kpi.band.label)}'
            rows.append(
                [
                    Paragraph(escape(kpi.label), BODY),
                    Paragraph(kpi.display, BODY_RIGHT),
                    Paragraph(status, style("kpi-status-row", font=FONT_BOLD, color=colour(kpi.band.colour)))
                    if kpi.band.key != "missing"
                    else Paragraph(
                        status, status_style.clone("kpi-missing", textColor=colour(COLOURS["missing"]))
                    ),
                ]
            )
        table = data_table(rows, _widths(0.45, 0.20, 0.35))
        self.section_title("Primary KPIs", self._table_height(table))
        self.pc.draw_table(table)

    def secondary_indicators(self) -> None:
        ctx = self.ctx
        rows: list[list[object]] = [
            [Paragraph("Metric", TABLE_HEADER), Paragraph("Value", TABLE_HEADER_RIGHT)],
            [Paragraph("FTD revenue", BODY), Paragraph(format_money(ctx.ftd_revenue), BODY_RIGHT)],
            [
                Paragraph("High value orders (&gt;₹800)", BODY),
                Paragraph(format_count(ctx.high_value_orders_count), BODY_RIGHT),
            ],
            [
                Paragraph("Undelivered snapshot today", BODY),
                Paragraph(format_count(ctx.undelivered_snapshot_count), BODY_RIGHT),
            ],
        ]
        table = data_table(rows, _widths(0.60, 0.40))
        self.section_title("Secondary Indicators", self._table_height(table))
        self.pc.draw_table(table)

    def operating_snapshot(self) -> None:
        ctx = self.ctx
        if ctx.previous_date is not None:
            compared = f"T-1 = latest earlier dashboard ({format_date(ctx.previous_date)})"
        else:
            compared = "T-1 = no earlier dashboard data yet"
        caption = Paragraph(
            f"T = {format_date(ctx.report_date)}; {compared}. Leads compare pickup dates "
            f"{format_date(ctx.report_date)} and the day before.",
            style("snapshot-caption", size=8, color=MUTED),
        )
        rows: list[list[object]] = [
            [
                Paragraph("Metric", TABLE_HEADER),
                Paragraph("T-1", TABLE_HEADER_RIGHT),
                Paragraph("T", TABLE_HEADER_RIGHT),
                Paragraph("Δ", TABLE_HEADER_RIGHT),
                Paragraph("Note", TABLE_HEADER),
            ]
        ]
        for metric in ctx.snapshot:
            change = snapshot_change(
                metric.previous, metric.current, counter_restarted=metric.counter_restarted
            )
            tone = colour(change.colour)
            rows.append(
                [
                    Paragraph(escape(metric.label), BODY),
                    Paragraph(format_number(metric.previous), BODY_RIGHT),
                    Paragraph(format_number(metric.current), BODY_RIGHT),
                    Paragraph(change.delta_text, style("delta", font=FONT_BOLD, color=tone, align=TA_RIGHT)),
                    Paragraph(escape(change.note), style("note", size=8.5, color=tone)),
                ]
            )
        table = data_table(rows, _widths(0.30, 0.09, 0.09, 0.09, 0.43))
        _, caption_h = caption.wrapOn(self.c, CONTENT_WIDTH, 100)
        self.section_title("Today's Operating Snapshot", caption_h + 4 + self._table_height(table))
        self.pc.draw_paragraph(caption, space_after=5)
        self.pc.draw_table(table)

    def recommendations(self) -> None:
        recs = recommendations(self.kpis)
        title_style = style("reco-title", font=FONT_BOLD, size=10.5, color=NAVY, spaceAfter=5)
        item_style = style("reco-item", size=9, leading=12, leftIndent=10, bulletIndent=0, spaceAfter=3)
        cells: list[list[object]] = []
        for title, items in (
            ("Highlights", recs.highlights),
            ("Focus Areas", recs.focus_areas),
            ("Actions for Today", recs.actions),
        ):
            cell: list[object] = [Paragraph(title, title_style), Spacer(1, 1)]
            cell += [Paragraph(escape(item), item_style, bulletText="•") for item in items]
            cells.append(cell)
        table = Table([cells], colWidths=_widths(1 / 3, 1 / 3, 1 / 3))
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
        self.section_title("Recommendations", self._table_height(table))
        self.pc.draw_table(table)

    # --- action lists ----------------------------------------------------------------------------------

    def _list_header(self, columns: Sequence[_Column]) -> None:
        c, y = self.c, self.pc.y
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
        self.pc.y -= LIST_HEADER_HEIGHT

    def _action_list(
        self,
        title: str,
        columns: Sequence[_Column],
        row_height: float,
        count: int,
        draw_row: Callable[[int, float], None],
    ) -> None:
        """Title, column header and rows; a page break repeats the title ("continued") and the header."""
        self.section_title(title, LIST_HEADER_HEIGHT + (row_height if count else 20))
        self._list_header(columns)

        def continued(_pc: PagedCanvas) -> None:
            self._title_text(f"{title} (continued)")
            self._list_header(columns)

        self.pc.on_new_page = continued
        try:
            for index in range(count):
                self.pc.ensure(row_height)
                draw_row(index, self.pc.y)
                self.pc.y -= row_height
                self.c.setStrokeColor(GRID)
                self.c.setLineWidth(0.5)
                self.c.line(MARGIN, self.pc.y, RIGHT, self.pc.y)
        finally:
            self.pc.on_new_page = None

    def _empty_note(self, text: str) -> None:
        self.pc.ensure(22)
        self.c.setFillColor(colour("#7f8c8d"))
        self.c.setFont(FONT_ITALIC, 9.5)
        self.c.drawString(MARGIN + 6, self.pc.y - 15, text)
        self.pc.y -= 22

    def _closing_line(self, text: str) -> None:
        self.pc.ensure(24)
        self.c.setFillColor(TEXT)
        self.c.setFont(FONT_BOLD, 10)
        self.c.drawString(MARGIN + 6, self.pc.y - 17, text)
        self.pc.y -= 24

    def _action_widgets(
        self, y: float, *, check_name: str, check_tip: str, label: str, comment_name: str
    ) -> None:
        """Checkbox + label + full-width comment field, vertically centred on `y`."""
        c, form = self.c, self.c.acroForm
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

    def undelivered_orders(self) -> None:
        orders = self.ctx.undelivered_orders
        age_right = RIGHT - 120
        columns = (
            _Column("S. No.", MARGIN + 6),
            _Column("Order Info", MARGIN + 40),
            _Column("Age (days)", age_right, "right"),
            _Column("Net Amount", RIGHT - 6, "right"),
        )

        def row(index: int, top: float) -> None:
            self._undelivered_row(index + 1, orders[index], top, age_right)

        self._action_list(UNDELIVERED_TITLE, columns, UNDELIVERED_ROW, len(orders), row)
        if not orders:
            self._empty_note(NO_UNDELIVERED)
        self._closing_line(
            f"Total undelivered orders: {format_count(len(orders))}    |    "
            f"Total net amount: {format_money(self.ctx.undelivered_total_net)}"
        )

    def _undelivered_row(self, serial: int, order: UndeliveredOrder, top: float, age_right: float) -> None:
        c = self.c
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
        c.drawRightString(age_right, base, "—" if order.age_days is None else str(order.age_days))
        c.setFillColor(TEXT)
        c.setFont(FONT, 9.5)
        c.drawRightString(RIGHT - 6, base, format_money(order.net_amount))
        self._action_widgets(
            top - 25.5,
            check_name=f"undelivered_delivered_{serial}",
            check_tip="Delivered?",
            label="Delivered",
            comment_name=f"undelivered_comment_{serial}",
        )

    def missed_leads(self) -> None:
        leads = self.ctx.missed_leads
        type_x = RIGHT - 84
        columns = (
            _Column("S. No.", MARGIN + 6),
            _Column("Customer Details", MARGIN + 40),
            _Column("Customer Type", type_x),
        )

        def row(index: int, top: float) -> None:
            self._missed_lead_row(index + 1, leads[index], top, type_x)

        self._action_list(MISSED_LEADS_TITLE, columns, MISSED_LEAD_ROW, len(leads), row)
        if not leads:
            self._empty_note(NO_MISSED_LEADS)
        self._closing_line(f"Total missed leads: {format_count(len(leads))}")

    def _missed_lead_row(self, serial: int, lead: MissedLead, top: float, type_x: float) -> None:
        c = self.c
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
        c.drawString(
            type_x, base, fit_text(lead.customer_type or "N/A", FONT_COND_BOLD, 9.5, RIGHT - type_x - 4)
        )
        self._action_widgets(
            top - 36,
            check_name=f"missed_lead_converted_{serial}",
            check_tip="Lead converted?",
            label="Converted",
            comment_name=f"missed_lead_comment_{serial}",
        )


def _name_lines(name: str, width: float) -> list[str]:
    """The store name on one line (shrunk down to 17 pt), else wrapped on two lines at 17 pt; only a name
    longer than two lines is cut with an ellipsis."""
    if fit_font_size(name, FONT_BOLD, 22, NAME_WRAP_SIZE, width) > NAME_WRAP_SIZE or (
        text_width(name, FONT_BOLD, NAME_WRAP_SIZE) <= width
    ):
        return [name]
    lines = simpleSplit(name, FONT_BOLD, NAME_WRAP_SIZE, width)
    if len(lines) <= 2:
        return list(lines)
    rest = " ".join(lines[1:])
    return [lines[0], fit_text(rest, FONT_BOLD, NAME_WRAP_SIZE, width)]


def _widths(*fractions: float) -> list[float]:
    return [CONTENT_WIDTH * f for f in fractions]


__all__ = ["FOOTER_SENTENCE", "daily_pdf_path", "render_daily_pdf"]
