"""Shared look of every PDF report: embedded fonts, palette, page geometry, text fitting, tables and a paged
canvas that puts the footer and "Page N of M" on every page.

The base-14 PDF fonts have no ₹ glyph, so reports embed DejaVu Sans (Bitstream Vera licence, see
fonts/LICENSE.txt), which has it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.acroform import AcroForm
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFObject, PDFObjectReference, PDFString
from reportlab.pdfbase.pdfdoc import format as pdf_format
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from crm_core.fsutil import atomic_writer

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


# --- form fields ---------------------------------------------------------------------------------------


class SharedAppearanceForm(AcroForm):  # type: ignore[misc]  # reportlab has no type hints
    """reportlab's AcroForm with what widgets have in common built and written once per document.

    reportlab draws all six appearance streams of every checkbox (normal/down/rollover × on/off) and the
    stream of every text field, then finds most of them identical to one it made before. And each text field
    adds its own copy of the form font, so no two text-field appearances are identical. Here a font object
    is made once per font and a stream once per distinct set of arguments; every widget refers to the same
    objects, and each widget stays a separate form field the store fills in.

    Writing the widget dictionaries was the larger part of saving the file: of their entries only the
    page, the rectangle and the field name differ from widget to widget, so every other entry is formatted
    once and its bytes reused by each widget with an equal entry.
    """

    def __init__(self, canv: Canvas) -> None:
        super().__init__(canv)
        self._streams: dict[tuple[Any, ...], Any] = {}
        self._fonts: dict[str | None, tuple[str, str]] = {}
        self._entries: dict[tuple[str, Any], _FormattedOnce] = {}

    def _shared(
        self, build: Callable[..., Any], kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        key = (kind, args, tuple(sorted(kwargs.items())))
        try:
            stream = self._streams.get(key)
        except TypeError:  # a list argument (a list box's labels): built every time, as reportlab does
            return build(*args, **kwargs)
        if stream is None:
            stream = self._streams[key] = build(*args, **kwargs)
        return stream

    def checkboxAP(self, *args: Any, **kwargs: Any) -> Any:
        return self._shared(super().checkboxAP, "checkbox", args, kwargs)

    def txAP(self, *args: Any, **kwargs: Any) -> Any:
        return self._shared(super().txAP, "text", args, kwargs)

    def makeFont(self, fontName: str | None) -> tuple[str, str]:
        if fontName not in self._fonts:
            self._fonts[fontName] = super().makeFont(fontName)
        return self._fonts[fontName]

    def checkbox(self, *args: Any, **kwargs: Any) -> None:
        super().checkbox(*args, **kwargs)
        self._share_entries()

    def _textfield(self, *args: Any, **kwargs: Any) -> None:  # text fields, list boxes and choices
        super()._textfield(*args, **kwargs)
        self._share_entries()

    def _share_entries(self) -> None:
        widget = self.canv._doc.idToObject[self.fields[-1].name]  # the widget just added
        for key, value in widget.dict.items():
            if key in _OWN_ENTRIES:
                continue
            try:
                identity = (key, _structure(value))
            except TypeError:  # an object we do not know how to compare: written as reportlab does
                continue
            shared = self._entries.get(identity)
            if shared is None:
                shared = self._entries[identity] = _FormattedOnce(value)
            widget.dict[key] = shared


# The entries of a widget's dictionary that are its own: the page it is on, where, and the field name.
_OWN_ENTRIES = frozenset({"P", "Rect", "T"})


def _structure(value: Any) -> Any:
    """A hashable value equal for PDF objects that write the same bytes (TypeError for other objects)."""
    if isinstance(value, str | int | float):
        return (type(value), value)  # True, 1 and 1.0 are equal but written differently
    if isinstance(value, PDFObjectReference):
        return ("ref", value.name)
    if isinstance(value, PDFString):
        return ("string", value.s, value.escape, value.enc)
    if isinstance(value, PDFArray):
        return ("array", *(_structure(v) for v in value.sequence))
    if isinstance(value, PDFDictionary):
        return ("dict", *sorted((k, _structure(v)) for k, v in value.dict.items()))
    raise TypeError(type(value).__name__)


class _FormattedOnce(PDFObject):  # type: ignore[misc]  # reportlab has no type hints
    """A PDF value whose bytes are computed at the first write and reused: references are numbered when
    made and report PDFs are not encrypted, so they are the same wherever the value appears."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.formatted: bytes | None = None

    def format(self, document: Any) -> bytes:
        if self.formatted is None:
            self.formatted = pdf_format(self.value, document)
        return self.formatted


class _ReportCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
    @property
    def acroForm(self) -> SharedAppearanceForm:
        # reportlab's own property builds a plain AcroForm on first use; the catalog entry is how it
        # attaches the form to the document.
        form = self.__dict__.get("AcroForm")
        if form is None:
            form = self.AcroForm = self._doc._catalog.AcroForm = SharedAppearanceForm(self)
        return form


# --- paged canvas ----------------------------------------------------------------------------------------

PageDecorator = Callable[["PagedCanvas"], None]


class PagedCanvas:
    """A reportlab canvas with a vertical cursor.

    `ensure(height)` starts a new page when the next block does not fit above the footer; every page gets
    the footer sentence and "Page N of M". The document is laid out once: each page ends by placing a form
    XObject of its own footer, and `finish` defines those forms once the page count is known (a PDF may
    refer to a form defined later in the file).
    """

    def __init__(
        self,
        target: str | BinaryIO,
        *,
        title: str,
        footer_text: str,
        author: str = "TSV CRM",
        subject: str = "",
    ) -> None:
        register_fonts()
        self.canvas = _ReportCanvas(target, pagesize=A4, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setSubject(subject)
        self.canvas.setCreator("TSV CRM reports (reportlab)")
        self.footer_text = footer_text
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
        self._end_page()
        self.page += 1
        self.y = CONTENT_TOP

    def finish(self) -> int:
        """Footer on the last page, every page's footer, write the file; returns the page count."""
        self._end_page()
        total = self.page
        for number in range(1, total + 1):
            self.canvas.beginForm(_footer_form(number))
            self._draw_footer(number, total)
            self.canvas.endForm()
        self.canvas.save()
        return total

    def _end_page(self) -> None:
        self.canvas.doForm(_footer_form(self.page))
        self.canvas.showPage()

    def _draw_footer(self, number: int, total: int) -> None:
        c = self.canvas
        c.saveState()
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN, FOOTER_RULE_Y, PAGE_WIDTH - MARGIN, FOOTER_RULE_Y)
        c.setFillColor(FOOTER)
        c.setFont(FONT, 8)
        page_label = f"Page {number} of {total}"
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


def render_pdf(draw: Callable[[PagedCanvas], None], path: Path, **canvas_args: Any) -> int:
    """Draw the document and write it to `path`; returns the page count.

    The file is written beside its final name and moved into place, so a failed render never leaves a
    half-written PDF.
    """
    with atomic_writer(path) as fh:  # private (0600) and never seen half-written
        writer = PagedCanvas(fh, **canvas_args)
        draw(writer)
        return writer.finish()


def _footer_form(page: int) -> str:
    return f"page_footer_{page}"
