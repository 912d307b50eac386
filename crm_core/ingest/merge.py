"""Record-level merge of one bucket's per-store CSV files.

Every per-store file is parsed as CSV with polars (all values text), its headers are mapped to the
registry's canonical columns, and the records of all stores (sorted store order) are concatenated,
de-duplicated on the bucket's keys keeping the LAST occurrence, and written atomically to
`merged_<bucket>_<YYYYMMDD>.csv` with two provenance columns (`source_file`, `source_line`).

Damaged input never stops the bucket: an empty, header-only, HTML or unparseable file contributes 0 rows
and one warning naming the file. Warnings never carry field values (only file names, header names with
mobiles masked, line numbers and counts).
"""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from crm_core.errors import PermanentError
from crm_core.exports import ExportSpec, normalise_header
from crm_core.fsutil import atomic_writer
from crm_core.json_logger import EventLogger, redact_text
from crm_core.text import CONTROL_CHARACTERS

SOURCE_FILE = "source_file"
SOURCE_LINE = "source_line"
PROVENANCE_COLUMNS = (SOURCE_FILE, SOURCE_LINE)

_BOM = b"\xef\xbb\xbf"
_HTML_SNIFF_CHARS = 512
_HTML_MARKERS = ("<html", "<!doctype html")
# Header names are echoed in warnings; a headerless file would put data there, so keep them short.
_MAX_HEADER_SHOWN = 40
_NEWLINE = 10
_CR = 13
_QUOTE = 34

_READ_WORKERS = 4
# Key values that trimming (and, for store codes, upper-casing) would change, or empty ones.
_UNNORMALISED = r"^\s|\s$|^$"
_STORE_CODE_UNNORMALISED = r"^\s|\s$|^$|\p{Ll}"

_Warn = Callable[[str], None]


@dataclass
class MergeResult:
    bucket: str
    merged_path: Path | None  # None only when no input file exists at all
    download_rows_by_store: dict[str, int]  # data records read per store file (0 for empty/HTML/unreadable)
    download_total: int
    raw_rows: int  # records before de-dup
    merged_rows: int  # records after de-dup (keep LAST occurrence, stores in sorted order)
    source_files: dict[str, Path]  # store -> per-store file (what cleanup deletes)
    warnings: list[str] = field(default_factory=list)


class MergeError(PermanentError):
    """The merged file could not be written (disk full, no permission); the per-store files are untouched."""


class _FileSkipped(Exception):
    """The file contributes 0 rows; the message (no personal data) becomes the warning."""


@dataclass
class _Records:
    """Where the header and the data records of one file start (physical lines, 1-based)."""

    header_offset: int  # byte offset of the header record
    physical_rows: int  # rows polars will produce after the header (blank lines included)
    keep: np.ndarray  # bool mask over those rows: False for blank lines
    start_lines: np.ndarray  # int64, 1-based start line of every kept record


@dataclass
class _Loaded:
    """One store's file after reading: its records (or None) and its warnings, in the order they arose."""

    store: str
    path: Path
    exists: bool
    frame: pl.DataFrame | None
    warnings: list[str]


def merge_bucket(
    spec: ExportSpec,
    files: Mapping[str, Path],
    out_dir: Path,
    report_date: date,
    logger: EventLogger | None = None,
) -> MergeResult:
    """Merge the per-store files of `spec`'s bucket into `out_dir / spec.merged_file_name(report_date)`.

    Memory holds one bucket's keys and a few stores' records, never every store's records at once: a first
    pass reads each store's file and keeps only its keys; once the last occurrence of every key is known,
    a second pass reads the files again, store by store, and appends the records kept to the merged file.
    Reading twice costs a second parse of small files; it needs no disk space beyond the merged file.
    """
    started = time.perf_counter()
    header_map = spec.header_map()
    warnings: list[str] = []
    rows_by_store: dict[str, int] = {}
    source_files: dict[str, Path] = {}
    with_records: dict[str, Path] = {}
    keys: list[pl.DataFrame] = []
    for item in _read_in_order(spec, header_map, files):
        for message in item.warnings:
            warnings.append(message)
            if logger is not None:
                logger.event("merge", "warn", message, bucket=spec.bucket, store_code=item.store)
        rows_by_store[item.store] = item.frame.height if item.frame is not None else 0
        if item.exists:
            source_files[item.store] = item.path
        if item.frame is not None:
            with_records[item.store] = item.path
            keys.append(item.frame.select(spec.keys))

    raw_rows = sum(rows_by_store.values())
    if not source_files:
        if logger is not None:
            logger.event("merge", "warn", "no input file exists; nothing merged", bucket=spec.bucket)
        return MergeResult(spec.bucket, None, rows_by_store, raw_rows, raw_rows, 0, source_files, warnings)

    keep = last_occurrences(pl.concat(keys, how="vertical") if keys else pl.DataFrame(), spec.keys)
    del keys
    merged_path = out_dir / spec.merged_file_name(report_date)
    try:
        merged_rows = _write_merged(spec, header_map, with_records, rows_by_store, keep, merged_path)
    except OSError as exc:
        # The cause ("No space left on device", "Permission denied") is what the operator acts on; strerror
        # leaves out the path, and polars' own OSError has only its message.
        cause = redact_text(exc.strerror or str(exc) or type(exc).__name__)
        raise MergeError(
            f"{spec.bucket}: merged file {merged_path.name} could not be written ({cause})"
        ) from exc

    result = MergeResult(
        bucket=spec.bucket,
        merged_path=merged_path,
        download_rows_by_store=rows_by_store,
        download_total=raw_rows,
        raw_rows=raw_rows,
        merged_rows=merged_rows,
        source_files=source_files,
        warnings=warnings,
    )
    if logger is not None:
        logger.event(
            "merge",
            "warn" if warnings else "ok",
            f"merged {len(source_files)} file(s): {raw_rows} rows read, {merged_rows} after de-dup",
            bucket=spec.bucket,
            merged_file=merged_path.name,
            counts={"download_total": raw_rows, "raw_rows": raw_rows, "merged_rows": merged_rows},
            duration_ms=(time.perf_counter() - started) * 1000,
            download_rows_by_store=rows_by_store,
            warnings=len(warnings),
        )
    return result


def _read_in_order(
    spec: ExportSpec, header_map: Mapping[str, str], files: Mapping[str, Path]
) -> Iterator[_Loaded]:
    """Each store's file read, in sorted store order. polars parses each file on all cores, but the byte
    scan and the glue around it are serial: a small pool overlaps one file's serial part with another's
    parse, reading at most a few files ahead so that memory does not grow with the number of stores."""
    stores = iter(sorted(files))
    workers = min(_READ_WORKERS, max(1, len(files)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: deque[Future[_Loaded]] = deque()

        def submit_next() -> None:
            store = next(stores, None)
            if store is not None:
                ahead.append(pool.submit(_load, spec, header_map, store, Path(files[store])))

        for _ in range(2 * workers):
            submit_next()
        while ahead:
            item = ahead.popleft().result()
            submit_next()
            yield item


def _write_merged(
    spec: ExportSpec,
    header_map: Mapping[str, str],
    with_records: Mapping[str, Path],
    rows_by_store: Mapping[str, int],
    keep: pl.Series,
    path: Path,
) -> int:
    """The stores' records read again in order, each store's last occurrences only, written atomically
    to `path`; returns the number of records written."""
    written = 0
    offset = 0
    with atomic_writer(path) as fh:
        if not with_records:
            _empty_frame(spec).write_csv(fh)
        for index, item in enumerate(_read_in_order(spec, header_map, with_records)):
            height = rows_by_store[item.store]
            if item.frame is None or item.frame.height != height:
                raise MergeError(f"{spec.bucket}: {item.path.name} changed while it was being merged")
            frame = item.frame.filter(keep.slice(offset, height))
            offset += height
            frame.write_csv(fh, include_header=index == 0)
            written += frame.height
    return written


def deduplicate(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Keep the LAST record per key, in the order of the kept records; rows with an empty key all stay."""
    if not keys or frame.height == 0:
        return frame
    return frame.filter(last_occurrences(frame.select(keys), keys))


def last_occurrences(key_frame: pl.DataFrame, keys: Sequence[str]) -> pl.Series:
    """For each row of `key_frame` (the key columns of a bucket's records, in order): is it the LAST
    record of its key? Rows with an empty key are all kept.

    Key values are compared trimmed and store codes case-insensitively, the way validation and
    the upsert will see them, so the merge never keeps two rows that the database would collapse.
    """
    if not keys or key_frame.height == 0:
        return pl.Series("keep", [True] * key_frame.height, dtype=pl.Boolean)
    # Normalising allocates new strings for every key value; skip it when no value would change.
    needs_normalising = key_frame.select(
        pl.any_horizontal(
            pl.col(k).str.contains(_STORE_CODE_UNNORMALISED if k == "store_code" else _UNNORMALISED).any()
            for k in keys
        )
    ).item()
    if needs_normalising:
        key_values = [
            (
                pl.col(k).str.strip_chars().str.to_uppercase()
                if k == "store_code"
                else pl.col(k).str.strip_chars()
            )
            for k in keys
        ]
        has_key = pl.all_horizontal([v.is_not_null() & (v != "") for v in key_values])
    else:
        key_values = [pl.col(k) for k in keys]
        has_key = pl.all_horizontal([v.is_not_null() for v in key_values])
    keep = has_key.not_() | pl.struct(key_values).is_last_distinct()
    return key_frame.select(keep.alias("keep")).to_series()


def _empty_frame(spec: ExportSpec) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {name: pl.String() for name in spec.column_names}
    schema[SOURCE_FILE] = pl.String()
    schema[SOURCE_LINE] = pl.Int64()
    return pl.DataFrame(schema=schema)


def _load(spec: ExportSpec, header_map: Mapping[str, str], store: str, path: Path) -> _Loaded:
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(redact_text(message))

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        warn(f"{spec.bucket}: no file for store {store} ({path.name}); 0 rows")
        return _Loaded(store, path, False, None, warnings)
    except OSError as exc:
        warn(f"{path.name}: unreadable ({type(exc).__name__}); 0 rows")
        return _Loaded(store, path, True, None, warnings)
    try:
        frame = _read_store_file(spec, header_map, path.name, raw, warn)
    except _FileSkipped as skipped:
        warn(str(skipped))
        return _Loaded(store, path, True, None, warnings)
    return _Loaded(store, path, True, frame, warnings)


def _read_store_file(
    spec: ExportSpec,
    header_map: Mapping[str, str],
    name: str,
    raw: bytes,
    warn: _Warn,
) -> pl.DataFrame:
    data = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    if not data or data.isspace():
        raise _FileSkipped(f"{name}: empty file; 0 rows")
    head = data[: _HTML_SNIFF_CHARS * 4].decode("utf-8", errors="replace")[:_HTML_SNIFF_CHARS].lower()
    # A page starts with markup; a CSV starts with its header, whose values may still mention "<html".
    if head.lstrip().startswith("<") and any(marker in head for marker in _HTML_MARKERS):
        raise _FileSkipped(f"{name}: HTML page instead of CSV (session expired?); file skipped, 0 rows")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        data = data.decode("utf-8", errors="replace").encode("utf-8")
        warn(f"{name}: not valid UTF-8 (first bad byte on line {line}); undecodable bytes replaced by U+FFFD")

    data = _lone_cr_to_lf(data)
    records = _locate_records(data)
    try:
        table = pl.read_csv(
            data[records.header_offset :],
            has_header=False,
            infer_schema=False,
            null_values=[""],
        )
    except pl.exceptions.PolarsError:
        raise _FileSkipped(f"{name}: CSV could not be parsed ({_diagnose(data)}); 0 rows") from None
    if table.height != records.physical_rows + 1:
        raise _FileSkipped(
            f"{name}: CSV could not be parsed (record boundaries are ambiguous, stray quote?); 0 rows"
        )

    headers = ["" if v is None else str(v) for v in table.row(0)]
    positions = _map_headers(spec, header_map, name, headers, warn)
    body = table.slice(1)
    if not records.keep.all():
        body = body.filter(pl.Series(records.keep))
    if body.height == 0:
        raise _FileSkipped(f"{name}: header only; 0 rows")

    columns = body.columns
    return body.select(
        *[
            pl.col(columns[positions[c]]).alias(c) if c in positions else pl.lit(None, pl.String).alias(c)
            for c in spec.column_names
        ],
        pl.lit(name, pl.String).alias(SOURCE_FILE),
        pl.Series(SOURCE_LINE, records.start_lines, dtype=pl.Int64),
    )


def _map_headers(
    spec: ExportSpec,
    header_map: Mapping[str, str],
    name: str,
    headers: Sequence[str],
    warn: _Warn,
) -> dict[str, int]:
    """Canonical column → position in the file. First matching header wins; the rest warn."""
    positions: dict[str, int] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for index, header in enumerate(headers):
        column = header_map.get(normalise_header(header))
        if column is None:
            unknown.append(_show_header(header))
        elif column in positions:
            repeated.append(f"{_show_header(header)}→{column}")
        else:
            positions[column] = index
    if unknown and not positions:
        # Likely a file without a header row: its "header names" would be a customer's data.
        warn(
            f"{name}: none of the {len(unknown)} header(s) is a known column (no header row?); names withheld"
        )
    elif unknown:
        warn(f"{name}: {len(unknown)} unknown column(s) skipped: {', '.join(unknown)}")
    if repeated:
        warn(f"{name}: column(s) already mapped by an earlier header, skipped: {', '.join(repeated)}")
    return positions


def _show_header(header: str) -> str:
    # Control characters as "?": repr's escapes would glue their hex digits to the header's own digits.
    shown = CONTROL_CHARACTERS.sub("?", header.replace("\ufeff", ""))
    if len(shown) > _MAX_HEADER_SHOWN:
        shown = shown[:_MAX_HEADER_SHOWN] + "…"
    return repr(shown)


def _lone_cr_to_lf(data: bytes) -> bytes:
    """A CR not followed by LF and outside quotes ends a record (classic Mac exports, mixed endings).

    polars splits records on LF only: such a file would read as one long header record, its data shown as
    "unknown columns" (customer values in a warning) and no rows. CRs inside quoted values are kept.
    """
    if data.find(b"\r") == -1:
        return data
    buf = np.frombuffer(data, dtype=np.uint8)
    crs = np.flatnonzero(buf == _CR)
    following = buf[np.minimum(crs + 1, len(buf) - 1)]
    lone = crs[(crs + 1 == len(buf)) | (following != _NEWLINE)]
    if lone.size and data.find(b'"') != -1:
        quotes = np.flatnonzero(buf == _QUOTE)
        lone = lone[(np.searchsorted(quotes, lone) & 1) == 0]
    if not lone.size:
        return data
    fixed = buf.copy()
    fixed[lone] = _NEWLINE
    return fixed.tobytes()


def _locate_records(data: bytes) -> _Records:
    """Record starts from the raw bytes: a newline ends a record iff an even number of quotes precede it.

    polars does not report line numbers; this scan gives each record's first physical line even when a
    quoted field spans several lines, and tells blank lines (which polars returns as all-null rows) apart.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == _NEWLINE)
    if data.find(b'"') == -1:
        terminators = newlines
        terminator_lines = np.arange(newlines.size, dtype=np.int64)
    else:
        quotes = np.flatnonzero(buf == _QUOTE)
        outside = (np.searchsorted(quotes, newlines) & 1) == 0
        terminators = newlines[outside]
        terminator_lines = np.flatnonzero(outside).astype(np.int64)
    # Record k spans [starts[k], ends[k]); the empty tail after a final newline is no record.
    starts = np.concatenate(([0], terminators + 1))
    ends = np.concatenate((terminators, [len(data)]))
    start_lines = np.concatenate(([1], terminator_lines + 2))
    if starts[-1] >= len(data):
        starts, ends, start_lines = starts[:-1], ends[:-1], start_lines[:-1]
    lengths = ends - starts
    blank = (lengths == 0) | ((lengths == 1) & (buf[np.minimum(starts, len(data) - 1)] == ord("\r")))
    non_blank = np.flatnonzero(~blank)
    if non_blank.size == 0:
        return _Records(len(data), 0, np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64))
    header = int(non_blank[0])  # polars skips blank lines before the header
    return _Records(
        header_offset=int(starts[header]),
        physical_rows=len(starts) - header - 1,
        keep=~blank[header + 1 :],
        start_lines=start_lines[header + 1 :][~blank[header + 1 :]],
    )


def _diagnose(data: bytes) -> str:
    """Find where a file stops being CSV, for the warning (line and field counts only, never values)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""), strict=True)
    width: int | None = None
    line = 0
    try:
        for row in reader:
            if not row:
                line = reader.line_num
                continue
            if width is None:
                width = len(row)
            elif len(row) > width:
                return f"record on line {line + 1} has {len(row)} fields, the header has {width}"
            line = reader.line_num
    except csv.Error:
        return f"malformed quoting near line {reader.line_num}"
    return "malformed quoting" if width is not None else "no header"
