"""The paged canvas and the form fields read back from real PDFs: "Page N of M" on every page from one
layout pass, widget appearances shared by all widgets while each stays its own field, and reportlab's C
accelerator in use."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.generic import IndirectObject
from reportlab.lib.colors import white

from crm_core.reports.styles import FIELD_BORDER, FORM_FONT, MARGIN, NAVY, PagedCanvas, render_pdf

FOOTER = "Styles test footer"


def page_texts(path: Path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(path).pages]


def test_every_page_numbered_out_of_the_total_from_one_layout_pass(tmp_path: Path) -> None:
    calls = []

    def draw(pc: PagedCanvas) -> None:
        calls.append(pc)
        for block in range(40):  # 150 pt each: five fit above the footer of an A4 page
            pc.ensure(150)
            pc.canvas.drawString(MARGIN, pc.y - 12, f"block {block}")
            pc.y -= 150

    path = tmp_path / "numbered.pdf"
    pages = render_pdf(draw, path, title="t", footer_text=FOOTER)

    assert len(calls) == 1  # laid out once
    texts = page_texts(path)
    assert pages == len(texts) == 8
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text, text
        assert FOOTER in text
        assert f"block {5 * (number - 1)}" in text and f"block {5 * number - 1}" in text
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_a_single_page_says_page_1_of_1(tmp_path: Path) -> None:
    path = tmp_path / "one.pdf"
    pages = render_pdf(
        lambda pc: pc.canvas.drawString(MARGIN, 700, "hello"), path, title="t", footer_text=FOOTER
    )
    texts = page_texts(path)
    assert pages == len(texts) == 1 and "hello" in texts[0] and "Page 1 of 1" in texts[0]


def _widgets(pc: PagedCanvas, count: int) -> None:
    form = pc.canvas.acroForm
    for index in range(count):
        pc.ensure(30)
        form.checkbox(
            name=f"done_{index}",
            x=MARGIN,
            y=pc.y - 20,
            size=12,
            buttonStyle="check",
            borderColor=FIELD_BORDER,
            fillColor=white,
            textColor=NAVY,
            borderWidth=0.8,
            fieldFlags="",
            forceBorder=True,
        )
        form.textfield(
            name=f"comment_{index}",
            x=MARGIN + 20,
            y=pc.y - 22,
            width=200 + 100 * (index % 2),  # two widths: two distinct appearances
            height=16,
            fontName=FORM_FONT,
            fontSize=9,
            borderColor=FIELD_BORDER,
            fillColor=white,
            borderWidth=0.6,
            maxlen=500,
            forceBorder=True,
        )
        pc.y -= 30


def test_widgets_share_their_appearance_streams_and_stay_separate_fields(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    render_pdf(lambda pc: _widgets(pc, 60), path, title="t", footer_text=FOOTER)
    reader = PdfReader(path)

    fields = reader.get_fields() or {}
    assert sorted(fields) == sorted([f"done_{i}" for i in range(60)] + [f"comment_{i}" for i in range(60)])
    checkbox_streams: set[int] = set()
    text_streams: set[int] = set()
    text_fonts: set[int] = set()
    for page in reader.pages:
        for annot in page["/Annots"]:
            widget = annot.get_object()
            appearances = widget["/AP"]
            if widget["/FT"] == "/Btn":
                assert widget["/AS"] == "/Off" and widget["/V"] == "/Off"
                for key in ("/N", "/D", "/R"):
                    states = appearances[key]
                    assert set(states) == {"/Yes", "/Off"}
                    checkbox_streams |= {states.raw_get(s).idnum for s in ("/Yes", "/Off")}
            else:
                normal = appearances.raw_get("/N")
                assert isinstance(normal, IndirectObject)
                text_streams.add(normal.idnum)
                fonts = normal.get_object()["/Resources"]["/Font"]
                text_fonts |= {fonts.raw_get(name).idnum for name in fonts}
    # normal on/off, down on/off (darker), rollover on/off (lighter): six streams for all 60 checkboxes.
    assert len(checkbox_streams) == 6
    assert len(text_streams) == 2 and len(text_fonts) == 1


def test_reportlab_uses_its_c_accelerator() -> None:
    from reportlab.lib import rl_accel

    # The helpers come from the compiled `_rl_accel` module, not their pure-Python fallbacks.
    for name in ("fp_str", "instanceStringWidthTTF", "escapePDF"):
        assert getattr(rl_accel, name).__module__ == "_rl_accel", name
