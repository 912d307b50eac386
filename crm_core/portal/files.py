"""Checks on a downloaded export before it is kept and its row count."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from crm_core.errors import CrmError
from crm_core.exports import ExportSpec, normalise_header

HTML_SIGNATURES = ("<!doctype html", "<html", "<head", "<body", "<script")
SAMPLE_BYTES = 2048


class InvalidExport(CrmError):
    """The body is not a usable CSV for this export; `transient` when fetching again may help."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason, transient=transient)
        self.reason = reason


@dataclass(frozen=True)
class CheckedCsv:
    rows: int
    header: list[str]
    non_utf8: bool
    unknown_columns: list[str]


def check_csv(body: bytes, spec: ExportSpec) -> CheckedCsv:
    """Non-blank, not HTML, sniffable, carries every required column of `spec`, not cut off mid-row."""
    try:
        text = body.decode("utf-8-sig")
        non_utf8 = False
    except UnicodeDecodeError:
        text = body.decode("utf-8-sig", errors="replace")  # ingest reads with errors ignored
        non_utf8 = True
    sample = text[:SAMPLE_BYTES]
    if not sample.strip():
        raise InvalidExport("blank body")
    if any(sig in sample[:512].lower() for sig in HTML_SIGNATURES):
        raise InvalidExport("HTML page instead of CSV")
    try:
        csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        raise InvalidExport("not recognisable as CSV (sniffer refused it)") from None
    records = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not records:
        raise InvalidExport("no values: only separators and blank lines")
    header = [h.strip() for h in records[0]]
    present = {normalise_header(h) for h in header}
    missing = [
        column
        for column in spec.required_columns
        if not any(normalise_header(h) in present for h in spec.column_index[column].accepted_headers)
    ]
    known = set(spec.header_map())
    if missing:
        # Never quote the header: without a header row, the "header" is a customer's record.
        recognised = sum(1 for h in header if normalise_header(h) in known)
        raise InvalidExport(
            f"missing required columns {', '.join(missing)} "
            f"(first row: {len(header)} fields, {recognised} of them export headers)"
        )
    if len(records) > 1 and not text.endswith(("\n", "\r")) and len(records[-1]) < len(header):
        raise InvalidExport(
            f"truncated: last row has {len(records[-1])} of {len(header)} fields", transient=True
        )
    unknown = [h for h in header if normalise_header(h) not in known]
    return CheckedCsv(rows=len(records) - 1, header=header, non_utf8=non_utf8, unknown_columns=unknown)


def count_rows(path: Path) -> int:
    """Records after the header; HTML or unreadable files count 0."""
    data = path.read_bytes()
    if any(sig in data[:512].decode("utf-8", "replace").lower() for sig in HTML_SIGNATURES):
        return 0
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace")))
    return max(0, sum(1 for r in reader if any(c.strip() for c in r)) - 1)
