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
    non_utf8, ends_with_newline, plain = _scan_bytes(fh)
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
        walked = _walk_plain(fh, spec) if plain else None
        if walked is None:
            text.seek(0)
            walked = _walk_records(text, spec)
        header, rows, last_fields = walked
    finally:
        text.detach()
    if header is None:
        raise InvalidExport("no values: only separators and blank lines")
    if rows and not ends_with_newline and last_fields < len(header):
        raise InvalidExport(f"truncated: last row has {last_fields} of {len(header)} fields", transient=True)
    known = set(spec.header_map())
    unknown = [h for h in header if normalise_header(h) not in known]
    return CheckedCsv(rows=rows, header=header, non_utf8=non_utf8, unknown_columns=unknown)


def _scan_bytes(fh: BinaryIO) -> tuple[bool, bool, bool]:
    """(not valid UTF-8, ends with a line break, plain: no quote and no NUL byte), in one pass of bounded
    reads."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    non_utf8, last, plain = False, b"", True
    while chunk := fh.read(READ_CHUNK):
        if not non_utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                non_utf8 = True
        plain = plain and b'"' not in chunk and b"\0" not in chunk
        last = chunk[-1:]
    if not non_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            non_utf8 = True
    return non_utf8, last in (b"\n", b"\r"), plain


# ASCII characters that str.strip() removes, other than line breaks, and the delimiter: what a blank
# record consists of; and the same with every non-ASCII byte.
_BLANK_BYTES = b", \t\x0b\x0c\x1c\x1d\x1e\x1f"
_BLANK_OR_NON_ASCII = _BLANK_BYTES + bytes(range(0x80, 0x100))
# How a blank record can begin: empty, an ASCII blank, or the UTF-8 lead byte of a Unicode space (U+0085,
# U+00A0; U+1680; U+2000…U+205F; U+3000).
_BLANK_STARTS = {b"", *(bytes((byte,)) for byte in _BLANK_BYTES + b"\xc2\xe1\xe2\xe3")}


def _walk_plain(
    fh: BinaryIO, spec: ExportSpec, chunk_bytes: int = READ_CHUNK
) -> tuple[list[str] | None, int, int] | None:
    """`_walk_records` for a file without quotes or NUL bytes, where every line is one record and every
    comma a field boundary: the same header and counts from whole lines, without parsing each record.
    None when a line is longer than the csv module's field limit, for `_walk_records` to judge it."""
    limit = csv.field_size_limit()
    header: list[str] | None = None
    rows = last_fields = 0
    tail = b""
    fh.seek(0)
    first = True
    while True:
        chunk = fh.read(chunk_bytes)
        data = tail + chunk
        if first:
            data, first = data.removeprefix(codecs.BOM_UTF8), False
        if chunk:  # whole lines only; the rest waits for the next read
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            data, tail = data[:cut], data[cut:]
            if len(tail) > limit:
                return None
        # One line break (LF) everywhere, so that deleting the blanks cannot join two breaks into one.
        normal = data.replace(b"\r\n", b"\n") if b"\r" in data else data
        normal = normal.replace(b"\r", b"\n") if b"\r" in normal else normal
        lines = normal.split(b"\n")
        if max(map(len, lines)) > limit:
            return None
        if lines[-1] == b"":  # the line after the last break is none
            lines.pop()
        if _BLANK_STARTS.isdisjoint({line[:1] for line in lines}):
            # No line is empty or starts with a blank: every line is a record with a value (the usual
            # export).
            values, count = ([0, len(lines) - 1] if lines else []), len(lines)
        else:
            values, count = _values(normal, lines)
        if values and header is None:
            header = [h.strip() for h in lines[values[0]].decode("utf-8", errors="replace").split(",")]
            _check_header(header, spec)
            count -= 1
        if count:
            rows += count
            last_fields = lines[values[-1]].count(b",") + 1
        if not chunk:
            return header, rows, last_fields


def _values(normal: bytes, lines: list[bytes]) -> tuple[list[int], int]:
    """(indexes of the first and last lines with a value, or of every such line; how many there are)."""
    kept = normal.translate(None, _BLANK_BYTES).split(b"\n")  # b"" for a blank record
    ascii_kept = normal.translate(None, _BLANK_OR_NON_ASCII).split(b"\n")
    if kept.count(b"") == ascii_kept.count(b""):  # every record with a value has an ASCII one
        values = [i for i in (_first_value(ascii_kept), _last_value(ascii_kept)) if i is not None]
        return values, len(ascii_kept) - ascii_kept.count(b"")
    # A value of non-ASCII bytes only: decoded and stripped as the csv path does (Unicode spaces).
    values = [
        i
        for i, rest in enumerate(kept)
        if rest and lines[i].decode("utf-8", errors="replace").replace(",", "").strip()
    ]
    return values, len(values)


def _first_value(kept: list[bytes]) -> int | None:
    return next((i for i, rest in enumerate(kept) if rest), None)


def _last_value(kept: list[bytes]) -> int | None:
    return next((i for i in range(len(kept) - 1, -1, -1) if kept[i]), None)


def _walk_records(text: io.TextIOWrapper, spec: ExportSpec) -> tuple[list[str] | None, int, int]:
    """(header, data rows, fields of the last row); the header is checked as soon as it is read."""
    reader = csv.reader(text)
    header: list[str] | None = None
    rows = last_fields = 0
    line = 1
    try:
        for record in reader:
            # A record counts when some value is more than blanks; `any` first skips the join for the
            # common row (this loop runs for every row of every export, ~3M a day at 200 stores).
            if any(record) and "".join(record).strip():
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
