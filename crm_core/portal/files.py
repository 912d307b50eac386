"""Checks on a downloaded export before it is kept and its row count."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from typing import BinaryIO

from crm_core.errors import CrmError
from crm_core.exports import ExportSpec, normalise_header

HTML_SIGNATURES = ("<!doctype html", "<html", "<head", "<body", "<script")
SAMPLE_BYTES = 2048
READ_CHUNK = 1 << 20


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
    """`check_csv_stream` of a body held in memory."""
    return check_csv_stream(io.BytesIO(body), spec)


def check_csv_stream(fh: BinaryIO, spec: ExportSpec) -> CheckedCsv:
    """Non-blank, not HTML, sniffable, carries every required column of `spec`, not cut off mid-row, no
    value longer than the csv module's field limit. Read from `fh` (seekable) a record at a time, so an
    export is never held in memory whole."""
    non_utf8, ends_with_newline = _scan_bytes(fh)
    fh.seek(0)
    # Ingest reads leniently too (undecodable bytes replaced), so the check sees what ingest will see.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    try:
        sample = text.read(SAMPLE_BYTES)
        if not sample.strip():
            raise InvalidExport("blank body")
        if any(sig in sample[:512].lower() for sig in HTML_SIGNATURES):
            raise InvalidExport("HTML page instead of CSV")
        try:
            csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            raise InvalidExport("not recognisable as CSV (sniffer refused it)") from None
        text.seek(0)
        header, rows, last_fields = _walk_records(text, spec)
    finally:
        text.detach()
    if header is None:
        raise InvalidExport("no values: only separators and blank lines")
    if rows and not ends_with_newline and last_fields < len(header):
        raise InvalidExport(f"truncated: last row has {last_fields} of {len(header)} fields", transient=True)
    known = set(spec.header_map())
    unknown = [h for h in header if normalise_header(h) not in known]
    return CheckedCsv(rows=rows, header=header, non_utf8=non_utf8, unknown_columns=unknown)


def _scan_bytes(fh: BinaryIO) -> tuple[bool, bool]:
    """(not valid UTF-8, ends with a line break), in one pass of bounded reads."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    non_utf8, last = False, b""
    while chunk := fh.read(READ_CHUNK):
        if not non_utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                non_utf8 = True
        last = chunk[-1:]
    if not non_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            non_utf8 = True
    return non_utf8, last in (b"\n", b"\r")


def _walk_records(text: io.TextIOWrapper, spec: ExportSpec) -> tuple[list[str] | None, int, int]:
    """(header, data rows, fields of the last row); the header is checked as soon as it is read."""
    reader = csv.reader(text)
    header: list[str] | None = None
    rows = last_fields = 0
    line = 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if header is None:
                    header = [h.strip() for h in record]
                    _check_header(header, spec)
                else:
                    rows += 1
                    last_fields = len(record)
            line = reader.line_num + 1
    except csv.Error as exc:
        where = f"row {rows + 1 if header is not None else 0} (line {line})"
        if "field larger than field limit" in str(exc):
            text.seek(0)
            column = _long_field_column(text, line)
            name = f' "{header[column - 1]}"' if header is not None and column <= len(header) else ""
            raise InvalidExport(
                f"{where}, column {column}{name}: a value longer than {csv.field_size_limit()} characters"
            ) from None
        raise InvalidExport(f"not readable as CSV at {where}: {exc}") from None
    return header, rows, last_fields


def _check_header(header: list[str], spec: ExportSpec) -> None:
    present = {normalise_header(h) for h in header}
    missing = [
        column
        for column in spec.required_columns
        if not any(normalise_header(h) in present for h in spec.column_index[column].accepted_headers)
    ]
    if missing:
        # Never quote the header: without a header row, the "header" is a customer's record.
        known = set(spec.header_map())
        recognised = sum(1 for h in header if normalise_header(h) in known)
        raise InvalidExport(
            f"missing required columns {', '.join(missing)} "
            f"(first row: {len(header)} fields, {recognised} of them export headers)"
        )


def _long_field_column(text: io.TextIOWrapper, line: int) -> int:
    """The 1-based column of the first over-long value of the record starting at `line` (comma-separated,
    double quotes): scanned a character at a time, but only up to that value."""
    for _ in range(line - 1):
        text.readline()
    limit = csv.field_size_limit()
    column, length, quoted, at_start = 1, 0, False, True
    while chunk := text.read(READ_CHUNK):
        i = 0
        while i < len(chunk):
            ch = chunk[i]
            if quoted:
                if ch == '"':
                    if chunk[i + 1 : i + 2] == '"':
                        i += 1
                        length += 1
                    else:
                        quoted = False
                else:
                    length += 1
            elif ch == '"' and at_start:
                quoted = True
            elif ch == ",":
                column, length = column + 1, 0
            elif ch in "\r\n":
                return column
            else:
                length += 1
            at_start = ch == ","
            if length > limit:
                return column
            i += 1
    return column
