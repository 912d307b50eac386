"""Store dashboard page → typed figures: identity fields, the five sections, number parsing.

Pure functions over the page HTML (`page.content()`), so every variant is unit-testable without a browser.
Problems never raise: they become `warnings` on the result, since a scrape failure only warns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from crm_core.dashboard import (
    METRICS,
    SECTIONS,
    MetricKind,
    Section,
    fits_column,
    metric_for_header,
    metrics_of,
)
from crm_core.portal.htmltree import Node, collapse, parse_html

MetricValue = Decimal | int | None

GSTIN_RE = re.compile(r"^[0-9A-Z]{15}$")
_NULLS = frozenset({"", "-", "--", "—", "–", "n/a", "na", "n.a.", "n.a", "nil", "notavailable"})
# Lakh/crore words and abbreviations the parser also accepts (₹ 2.45 L).
_LAKH, _CRORE = Decimal(100_000), Decimal(10_000_000)
_UNITS = {"l": _LAKH, "lakh": _LAKH, "lakhs": _LAKH, "lac": _LAKH, "lacs": _LAKH}
_UNITS |= {"cr": _CRORE, "crore": _CRORE, "crores": _CRORE}
_NUMBER_RE = re.compile(r"^([+-]?\d+(?:\.\d+)?)(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")?$")
# Minus signs people and spreadsheets type instead of "-".
_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
_KEYWORDS: dict[Section, tuple[str, ...]] = {
    "Revenue": ("revenue", "prev", "previous", "target", "mtd", "ftd", "lmtd"),
    "Pickup": ("pickup", "new", "existing", "total", "conversion", "conv"),
    "Package": ("package", "target", "new", "ftd", "achievement", "overall"),
}


class NumberError(ValueError):
    """A dashboard cell that is neither a number nor a recognised empty marker."""


@dataclass
class DashboardFigures:
    """What one store's dashboard says for one day. Metric values are None when absent or unparseable."""

    store_code: str
    dashboard_date: date | None = None
    store_name: str | None = None
    gstin: str | None = None
    launch_date: date | None = None
    metrics: dict[str, MetricValue] = field(default_factory=lambda: {m.name: None for m in METRICS})
    warnings: list[str] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)

    @property
    def found_metrics(self) -> int:
        return sum(1 for v in self.metrics.values() if v is not None)


def parse_number(text: str, kind: MetricKind) -> MetricValue:
    """₹, Indian grouping, %, whitespace; '-'/'N/A' → None; counts are integers; L/Cr accepted."""
    cleaned = collapse(text).lower()
    if kind == "count" and cleaned:
        # Count cells may carry a link label after the number ("41 View"): the first token decides.
        cleaned = cleaned.split(" ")[0]
    cleaned = re.sub(r"[₹,%\s]|rs\.?", "", cleaned).removesuffix("/-")  # "Rs 1,200/-"
    if cleaned in _NULLS:
        return None
    cleaned = cleaned.translate(_MINUS)
    match = _NUMBER_RE.match(cleaned)
    if match is None or (match.group(2) and kind != "money"):  # lakh/crore only make sense for money
        raise NumberError(f"not a number: {collapse(text)!r}")
    try:
        value = Decimal(match.group(1)) * _UNITS.get(match.group(2) or "", Decimal(1))
        if kind == "count":
            if value != value.to_integral_value():
                raise NumberError(f"not a whole count: {collapse(text)!r}")  # never silently truncated
            return int(value)
        # More digits than the decimal context holds (28) cannot be rounded to cents: not a figure.
        return value.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise NumberError(f"not a number: {collapse(text)!r}") from None


def parse_dashboard_date(text: str) -> date | None:
    """'Dashboard Date: 19 Nov 2025' / '19 November 2025' → date; anything else → None."""
    cleaned = re.sub(r"^\s*dashboard\s*date\s*[:\-–]?\s*", "", collapse(text), flags=re.I)
    match = re.search(r"(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})", cleaned)
    if not match:
        return None
    day, month, year = match.groups()
    for fmt in ("%d %b %Y", "%d %B %Y"):
        try:
            return datetime.strptime(f"{day} {month[:3] if fmt == '%d %b %Y' else month} {year}", fmt).date()
        except ValueError:
            continue
    return None


def parse_launch_date(text: str) -> date | None:
    match = re.search(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_dashboard(html: str, store_code: str) -> DashboardFigures:
    """Every identity field and metric that the page carries; warnings for what is missing or unparseable."""
    root = parse_html(html)
    figures = DashboardFigures(store_code=store_code)
    _identity(root, figures)
    for section in SECTIONS:
        table = _find_section_table(root, section)
        if table is None:
            figures.missing_sections.append(section)
            figures.warnings.append(f"dashboard section missing: {section}")
            continue
        _read_section(table, section, figures)
    return figures


# --- identity ------------------------------------------------------------------------------------------


def _identity(root: Node, figures: DashboardFigures) -> None:
    title = root.find("h1", "dashboard-title")
    if title is None:
        figures.warnings.append("dashboard title not found")
    else:
        small = title.find("small")
        lines = title.lines()
        date_text = (
            small.text() if small is not None and collapse(small.text()) else (lines[-1] if lines else "")
        )
        figures.dashboard_date = parse_dashboard_date(date_text)
        if figures.dashboard_date is None:
            figures.warnings.append(f"dashboard date unparseable: {collapse(date_text)!r}")
        name_lines = lines[1:-1] if len(lines) >= 3 else lines[1:]
        name_lines = [line for line in name_lines if figures.store_code.upper() not in line.upper()]
        name_lines = [line for line in name_lines if not re.match(r"^\s*dashboard\s*date", line, re.I)]
        figures.store_name = " ".join(name_lines) or None
        if figures.store_name is None:
            figures.warnings.append("store name not found in the dashboard title")

    user = next((li for li in root.find_all("li", "user_bit")), None)
    anchor = user.find("a") if user is not None else None
    tokens = collapse(anchor.text(" ")).split(" ") if anchor is not None else []
    candidate = tokens[-1] if tokens else ""
    if GSTIN_RE.match(candidate):
        figures.gstin = candidate
    else:
        figures.warnings.append("GSTIN not found in the navbar")

    for heading in root.find_all("h3", "section-title"):
        if "launch date" not in collapse(heading.text()).lower():
            continue
        following = heading.element_siblings_after()
        if not following and heading.parent is not None:
            following = heading.parent.element_siblings_after()
        para = next((n for n in following if n.tag == "p"), None)
        figures.launch_date = parse_launch_date(para.text()) if para is not None else None
        break
    if figures.launch_date is None:
        figures.warnings.append("launch date not found")


# --- sections ------------------------------------------------------------------------------------------


def _headers_and_rows(table: Node) -> tuple[list[str], list[list[str]]]:
    head = table.find("thead")
    head_rows = head.find_all("tr") if head is not None else []
    all_rows = table.find_all("tr")
    header_row = head_rows[-1] if head_rows else (all_rows[0] if all_rows else None)
    headers = (
        [collapse(c.text(" ")) for c in header_row.iter() if c.tag in ("th", "td")] if header_row else []
    )
    body = table.find("tbody")
    body_rows = body.find_all("tr") if body is not None else [r for r in all_rows if r is not header_row]
    rows = []
    for row in body_rows:
        cells = [c for c in row.iter() if c.tag in ("td", "th")]
        if any(c.tag == "td" for c in cells) and any(collapse(c.text(" ")) for c in cells):
            rows.append([collapse(c.text(" ")) for c in cells])
    return headers, rows


def _keyword_score(section: Section, table: Node) -> int:
    headers, _ = _headers_and_rows(table)
    text = " ".join(headers).lower()
    return sum(1 for word in _KEYWORDS[section] if word in text)


def _find_section_table(root: Node, section: Section) -> Node | None:
    wanted = section.lower()
    exact_only = section in ("Delivery", "Repeat Customers")
    for heading in root.find_all("h3"):
        text = collapse(heading.text()).lower()
        if text != wanted and (exact_only or wanted not in text):
            continue
        # The table is the next element sibling (possibly wrapped in a div), before any other heading.
        for sibling in heading.element_siblings_after():
            if sibling.tag in ("h1", "h2", "h3"):
                break
            table = sibling if sibling.tag == "table" else sibling.find("table")
            if table is not None:
                return table
    if exact_only:
        return None
    scored = [(t, _keyword_score(section, t)) for t in root.find_all("table")]
    best = [t for t, score in scored if score >= 3]
    return best[0] if best else None


def _read_section(table: Node, section: Section, figures: DashboardFigures) -> None:
    headers, rows = _headers_and_rows(table)
    if not rows:
        figures.warnings.append(f"dashboard section {section} has no data row")
        return
    row = rows[0]
    if section == "Revenue":
        row = next((r for r in rows if not r[0] or "revenue" in r[0].lower()), rows[0])
    pairs = list(zip(headers, row, strict=False))
    if section == "Revenue" and all(len(r) == 2 for r in rows) and len(rows) > 1:
        pairs = [(r[0], r[1]) for r in rows]  # vertical "label | value" layout
    kinds = {m.name: m.kind for m in METRICS}
    seen: set[str] = set()
    for header, cell in pairs:
        metric = metric_for_header(section, header)
        if metric is None or metric in seen:
            continue
        seen.add(metric)
        try:
            value = parse_number(cell, kinds[metric])
        except NumberError as exc:
            figures.warnings.append(f"dashboard metric {metric} unparseable: {exc}")
            continue
        if value is not None and not fits_column(kinds[metric], value):
            # e.g. a growth of 24,430% for a new store: stored as unknown rather than failing the row
            figures.warnings.append(f"dashboard metric {metric} out of the stored range: {value}")
            value = None
        figures.metrics[metric] = value
    for expected in metrics_of(section):
        if expected.name not in seen:
            figures.warnings.append(f"dashboard metric missing: {expected.name}")
