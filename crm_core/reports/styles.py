"""Shared look of every PDF report: embedded fonts, palette, page geometry, text fitting, tables and a paged
canvas that puts the footer and "Page N of M" on every page.

The base-14 PDF fonts have no ₹ glyph, so reports embed DejaVu Sans (Bitstream Vera licence, see
fonts/LICENSE.txt), which has it.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, Table, TableStyle

FONTS_DIR = Path(__file__).with_name("fonts")

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_ITALIC = "DejaVuSans-Oblique"
FONT_COND = "DejaVuSansCondensed"
FONT_COND_BOLD = "DejaVuSansCondensed-Bold"
# AcroForm widgets reference a base-14 font: PDF viewers supply it for what the user types.
FORM_FONT = "Helvetica"

_FONT_FILES = {
    FONT: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_ITALIC: "DejaVuSans-Oblique.ttf",
    FONT_COND: "DejaVuSansCondensed.ttf",
    FONT_COND_BOLD: "DejaVuSansCondensed-Bold.ttf",
}
_fonts_lock = threading.Lock()
_fonts_registered = False


def register_fonts() -> None:
    """Register the embedded fonts with reportlab once per process (safe to call from any thread)."""
    global _fonts_registered
    with _fonts_lock:
        if _fonts_registered:
            return
        for name, file_name in _FONT_FILES.items():
            path = FONTS_DIR / file_name
            if not path.is_file():
                raise FileNotFoundError(f"report font {path} is missing (reinstall the package)")
            pdfmetrics.registerFont(TTFont(name, str(path)))
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD
        )
        pdfmetrics.registerFontFamily(
            FONT_COND, normal=FONT_COND, bold=FONT_COND_BOLD, italic=FONT_ITALIC, boldItalic=FONT_COND_BOLD
        )
        _fonts_registered = True


# --- palette ---------------------------------------------------------------------------------------------

TEXT = HexColor("#1c1c1c")
MUTED = HexColor("#4f4f4f")
FOOTER = HexColor("#7f8c8d")
NAVY = HexColor("#1f3a93")
HEALTH_BG = HexColor("#f3f7ff")
HEADER_FILL = HexColor("#fafafa")
GRID = HexColor("#e1e1e1")
RULE = HexColor("#ececec")
RECO_FILL = HexColor("#f9f9f9")
ZEBRA = HexColor("#fcfcfd")
FIELD_BORDER = HexColor("#9aa5b1")


def colour(hex_code: str) -> Color:
    return HexColor(hex_code)


# --- page geometry ---------------------------------------------------------------------------------------

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 36.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CONTENT_TOP = PAGE_HEIGHT - MARGIN
FOOTER_RULE_Y = MARGIN + 2
FOOTER_BASELINE = MARGIN - 10
CONTENT_BOTTOM = FOOTER_RULE_Y + 10
CONTENT_RIGHT = MARGIN + CONTENT_WIDTH


def widths(*fractions: float) -> list[float]:
    """Column widths as fractions of the content width."""
    return [CONTENT_WIDTH * f for f in fractions]


# --- text ------------------------------------------------------------------------------------------------

ELLIPSIS = "…"


def text_width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def fit_text(text: str, font: str, size: float, max_width: float) -> str:
    """The text, cut with an ellipsis so that it fits `max_width` (long names never overflow a cell)."""
    if text_width(text, font, size) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, font, size) <= max_width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ELLIPSIS


def fit_font_size(text: str, font: str, size: float, min_size: float, max_width: float) -> float:
    """The largest size between `min_size` and `size` (0.5 pt steps) at which the text fits."""
    while size > min_size and text_width(text, font, size) > max_width:
        size -= 0.5
    return size


def escape(text: str) -> str:
    """Paragraph markup is XML-like: data must not be read as tags."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def style(
    name: str,
    *,
    font: str = FONT,
    size: float = 9.5,
    leading: float | None = None,
    color: Color = TEXT,
    align: int = TA_LEFT,
    **extra: Any,
) -> ParagraphStyle:
    return ParagraphStyle(
        name,
        fontName=font,
        fontSize=size,
        leading=leading or round(size * 1.3, 1),
        textColor=color,
        alignment=align,
        **extra,
    )


BODY = style("body")
BODY_RIGHT = style("body-right", align=TA_RIGHT)
BODY_BOLD = style("body-bold", font=FONT_BOLD)
TABLE_HEADER = style("table-header", font=FONT_BOLD, size=8.5, color=MUTED)
TABLE_HEADER_RIGHT = style("table-header-right", font=FONT_BOLD, size=8.5, color=MUTED, align=TA_RIGHT)
SMALL = style("small", size=8.5, color=MUTED)


def data_table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    right_columns: Sequence[int] = (),
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A report table: header row on a light fill, thin grid, comfortable padding, right-aligned numbers."""
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, GRID),
        ("BOX", (0, 0), (-1, -1), 0.6, GRID),
        ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ("RIGHTPADDING", (0, 0), (-1, -1), 7),
    ]
    commands += [("ALIGN", (col, 0), (col, -1), "RIGHT") for col in right_columns]
    commands += list(extra)
    table = Table([list(r) for r in rows], colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle(commands))
    return table


# --- paged canvas ----------------------------------------------------------------------------------------

PageDecorator = Callable[["PagedCanvas"], None]


class PagedCanvas:
    """A reportlab canvas with a vertical cursor.

    `ensure(height)` starts a new page when the next block does not fit above the footer; every finished page
    gets the footer sentence and "Page N of M". The page total is known only after layout, so callers draw
    twice (`render_two_pass`): the first pass counts pages, the second writes the file.
    """

    def __init__(
        self,
        target: str | io.BytesIO,
        *,
        title: str,
        footer_text: str,
        total_pages: int | None,
        author: str = "TSV CRM",
        subject: str = "",
    ) -> None:
        register_fonts()
        self.canvas = Canvas(target, pagesize=A4, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setSubject(subject)
        self.canvas.setCreator("TSV CRM reports (reportlab)")
        self.footer_text = footer_text
        self.total_pages = total_pages
        self.page = 1
        self.y = CONTENT_TOP
        # Called after each automatic page break (e.g. to repeat a section title and column header).
        self.on_new_page: PageDecorator | None = None

    @property
    def remaining(self) -> float:
        return float(self.y - CONTENT_BOTTOM)

    def ensure(self, height: float) -> bool:
        """Start a new page if `height` does not fit; True when a page break happened."""
        if height <= self.remaining:
            return False
        self.new_page()
        if self.on_new_page is not None:
            self.on_new_page(self)
        return True

    def new_page(self) -> None:
        self._draw_footer()
        self.canvas.showPage()
        self.page += 1
        self.y = CONTENT_TOP

    def finish(self) -> int:
        """Footer on the last page, write the file; returns the page count."""
        self._draw_footer()
        self.canvas.showPage()
        self.canvas.save()
        return self.page

    def _draw_footer(self) -> None:
        c = self.canvas
        c.saveState()
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN, FOOTER_RULE_Y, PAGE_WIDTH - MARGIN, FOOTER_RULE_Y)
        c.setFillColor(FOOTER)
        c.setFont(FONT, 8)
        page_label = f"Page {self.page} of {self.total_pages if self.total_pages else self.page}"
        page_width = text_width(page_label, FONT, 8)
        c.drawRightString(PAGE_WIDTH - MARGIN, FOOTER_BASELINE, page_label)
        footer = fit_text(self.footer_text, FONT, 8, CONTENT_WIDTH - 2 * (page_width + 12))
        c.drawCentredString(PAGE_WIDTH / 2, FOOTER_BASELINE, footer)
        c.restoreState()

    # --- drawing helpers ---

    def draw_table(self, table: Table, *, space_after: float = 0) -> None:
        """Draw a platypus table at the cursor; it moves to a new page first if it does not fit."""
        _, height = table.wrapOn(self.canvas, CONTENT_WIDTH, PAGE_HEIGHT)
        self.ensure(height)
        table.drawOn(self.canvas, MARGIN, self.y - height)
        self.y -= height + space_after

    def draw_paragraph(
        self, paragraph: Paragraph, *, width: float = CONTENT_WIDTH, space_after: float = 0
    ) -> None:
        _, height = paragraph.wrapOn(self.canvas, width, PAGE_HEIGHT)
        self.ensure(height)
        paragraph.drawOn(self.canvas, MARGIN, self.y - height)
        self.y -= height + space_after

    def rule(self, *, color: Color = RULE, width: float = 0.8, space_after: float = 0) -> None:
        self.canvas.saveState()
        self.canvas.setStrokeColor(color)
        self.canvas.setLineWidth(width)
        self.canvas.line(MARGIN, self.y, PAGE_WIDTH - MARGIN, self.y)
        self.canvas.restoreState()
        self.y -= space_after


def render_two_pass(draw: Callable[[PagedCanvas], None], path: Path, **canvas_args: Any) -> int:
    """Lay the document out once to count pages, then write it with "Page N of M"; returns the page count.

    The file is written beside its final name and moved into place, so a failed render never leaves a
    half-written PDF.
    """
    counter = PagedCanvas(io.BytesIO(), total_pages=None, **canvas_args)
    draw(counter)
    total = counter.finish()
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own: two runs of one date render the same report at once (CLI and deployment).
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        writer = PagedCanvas(str(partial), total_pages=total, **canvas_args)
        draw(writer)
        pages = writer.finish()
        if pages != total:
            raise RuntimeError(f"layout is not deterministic: {total} pages counted, {pages} written")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return total
