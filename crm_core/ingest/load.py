"""Load of one merged bucket file into its table: stream → validate → upsert, all or nothing.

The merged file is read twice, both times streaming: first its dedupe-key columns only, to find the rows
whose (normalised) key occurs again later in the file (only the last occurrence is kept, so no key can
reach the database twice); then the whole file in batches of `batch_size` rows, each validated and staged.
One transaction per bucket: a database error rolls everything back and raises `IngestError`
(`TransientIngestError` when the connection or the server went away: trying again may succeed).

Rejected rows go to `rejects_<bucket>_<YYYYMMDD>.csv` beside the merged file with the columns
file, line, column, reason: where the row is (per-store file name and line) and why, never its values.
The operator opens the per-store file at that line; those files are kept because a reject makes the audit
a warning. The rejects file is written only after the transaction committed (a failed bucket has no
half-written rejects file) and never in a dry run.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.errors import CrmError, TransientError, is_transient
from crm_core.exports import ExportSpec
from crm_core.fsutil import AtomicFile
from crm_core.ingest.inert import inert_row
from crm_core.ingest.merge import SOURCE_FILE, SOURCE_LINE
from crm_core.ingest.upsert import UpsertCounts, open_stager
from crm_core.ingest.validate import (
    REJECT_COLUMNS,
    BatchResult,
    Validator,
    check_rows,
    personal_columns,
)
from crm_core.json_logger import EventLogger, mask_mobile, mask_name, redact_text

SAMPLE_ROWS = 3
REJECTS_LOGGED = 5  # only the first failures are logged in detail


class IngestError(CrmError):
    """The bucket could not be ingested; nothing of it is stored. The message names the bucket and never
    carries row values. Permanent (bad file, data or schema) unless it is a `TransientIngestError`."""


class TransientIngestError(IngestError, TransientError):
    """The connection or the server went away mid-bucket; the transaction rolled back, so trying the
    bucket again from its files is safe."""


@dataclass
class IngestResult:
    bucket: str
    merged_rows: int
    rejected_rows: int
    inserted: int
    updated: int
    ingested_rows: int  # inserted + updated + unchanged: the file's valid rows, all now stored
    null_warnings: int  # optional values that could not be coerced -> NULL
    rejects_path: Path | None  # only when rows were rejected (never in a dry run)
    dry_run: bool
    warnings: list[str] = field(default_factory=list)
    unchanged: int = 0  # stored keys whose content was already the same: not written

    def counts(self) -> dict[str, int]:
        return {
            "merged_rows": self.merged_rows,
            "rejected_rows": self.rejected_rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "ingested_rows": self.ingested_rows,
            "null_warnings": self.null_warnings,
        }


CHUNK_BYTES = 2 << 20
_NEWLINE, _QUOTE = 10, 34


def record_chunks(path: Path, chunk_bytes: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(header line, whole CSV records) in chunks of about `chunk_bytes`.

    Plain reads instead of polars' scan: scanning memory-maps the whole file, and every page it touched
    counts towards the process's RSS (a 1M-row bucket would hold ~170 MB of file in memory). A newline
    ends a record iff an even number of quotes precede it in the chunk (chunks start on a record).
    """
    with path.open("rb") as fh:
        header = fh.readline().removeprefix(b"\xef\xbb\xbf")
        carry = b""
        while True:
            block = fh.read(chunk_bytes or CHUNK_BYTES)
            data = carry + block
            if not block:
                if data.strip():
                    yield header, data
                return
            buf = np.frombuffer(data, dtype=np.uint8)
            newlines = np.flatnonzero(buf == _NEWLINE)
            quotes = np.flatnonzero(buf == _QUOTE)
            ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0] if quotes.size else newlines
            if not ends.size:
                carry = data  # one record longer than a chunk: read on
                continue
            cut = int(ends[-1]) + 1
            yield header, data[:cut]
            carry = data[cut:]


def _parse(header: bytes, records: bytes, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_csv(header + records, infer_schema=False, encoding="utf8-lossy", columns=columns)


def _earlier_duplicates(keys: pl.DataFrame, names: Sequence[str]) -> pl.Series:
    """Row numbers whose key occurs again later (rows without a complete key all stay: validation
    rejects them). Candidates are found by a 64-bit hash of the key, then compared exactly: a distinct
    check over the full keys of 1M rows would need ~200 MB, over their hashes ~20 MB."""
    # Sorting the hashes finds repeats with less memory than a hash table over them.
    hashed = keys.select(pl.struct(names).hash().alias("h")).with_row_index("_row").sort("h")
    h = pl.col("h")
    candidates = hashed.filter((h == h.shift(1)) | (h == h.shift(-1)))["_row"].sort()
    if not candidates.len():
        return pl.Series("_row", [], dtype=pl.Int64)
    subset = keys[candidates].with_columns(candidates.alias("_row"))
    has_key = pl.all_horizontal([pl.col(k).is_not_null() for k in names])
    return subset.filter(has_key & ~pl.struct(names).is_last_distinct())["_row"].cast(pl.Int64)


class MergedFile:
    """A merged file read as text: header check, the key pre-pass and the batches."""

    def __init__(self, spec: ExportSpec, path: Path, validator: Validator) -> None:
        self.spec = spec
        self.path = path
        try:
            with path.open("rb") as fh:
                first = fh.readline().decode("utf-8-sig", errors="replace")
            names = next(csv.reader([first]), [])
        except OSError as exc:
            raise IngestError(
                f"{spec.bucket}: merged file {path.name} is unreadable ({type(exc).__name__})"
            ) from None
        missing = [c for c in spec.column_names if c not in names]
        if missing:
            raise IngestError(f"{spec.bucket}: merged file {path.name} lacks column(s) {', '.join(missing)}")
        self.extra = [c for c in names if c not in spec.column_names and c not in (SOURCE_FILE, SOURCE_LINE)]
        self.columns = [c for c in names if c not in self.extra]
        try:
            parts = [_parse(h, r, list(spec.keys)) for h, r in record_chunks(path)]
        except pl.exceptions.PolarsError as exc:
            raise IngestError(
                f"{spec.bucket}: merged file {path.name} could not be parsed ({type(exc).__name__})"
            ) from None
        raw_keys = pl.concat(parts) if parts else pl.DataFrame(schema=dict.fromkeys(spec.keys, pl.String))
        keys = validator.key_frame(raw_keys)
        self.rows = keys.height
        self.duplicates = _earlier_duplicates(keys, spec.keys)

    def batches(self, batch_size: int) -> Iterator[tuple[int, pl.DataFrame]]:
        """(offset of the first row, rows) per batch of `batch_size` rows, duplicates left out."""
        offset = 0
        pending: pl.DataFrame | None = None
        for header, records in record_chunks(self.path):
            frame = _parse(header, records, self.columns)
            pending = frame if pending is None else pl.concat([pending, frame])
            while pending.height >= batch_size:
                yield offset, self._without_duplicates(offset, pending.head(batch_size))
                offset += batch_size
                pending = pending.slice(batch_size)
        if pending is not None and pending.height:
            yield offset, self._without_duplicates(offset, pending)

    def _without_duplicates(self, offset: int, batch: pl.DataFrame) -> pl.DataFrame:
        if not self.duplicates.len():
            return batch
        rows = pl.int_range(offset, offset + batch.height, eager=True, dtype=pl.Int64)
        return batch.filter(~rows.is_in(self.duplicates.implode()))


class RejectsFile:
    """Rejects streamed to a private temporary file, put in place only by `commit`."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.logged: list[dict[str, Any]] = []
        self.lines = 0
        self._file: AtomicFile | None = None
        self._fh: Any = None
        if enabled:
            self._file = AtomicFile(path)
            self._fh = io.TextIOWrapper(self._file.file, encoding="utf-8", newline="", write_through=True)
            self._writer = csv.writer(self._fh)
            self._writer.writerow(REJECT_COLUMNS)

    def add(self, rejects: pl.DataFrame) -> None:
        if not rejects.height:
            return
        self.lines += rejects.height
        if len(self.logged) < REJECTS_LOGGED:
            self.logged += rejects.head(REJECTS_LOGGED - len(self.logged)).to_dicts()
        if self._fh is not None:
            # The file is for people, who open it in a spreadsheet: no value may run as a formula.
            self._writer.writerows(inert_row(row) for row in rejects.iter_rows())

    def commit(self) -> Path | None:
        """Keep the file when there were rejects; a stale one from an earlier ingest is removed."""
        if self._file is None:
            return None
        self._fh.flush()
        self._fh.detach()
        self._fh = None
        if self.lines:
            return self._file.commit()
        self._file.abort()
        self.path.unlink(missing_ok=True)
        return None

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.detach()
            self._fh = None
        if self._file is not None:
            self._file.abort()


async def prefetched(batches: Iterator[BatchResult]) -> AsyncGenerator[BatchResult, None]:
    """Read and validate the next batch in a worker thread while the current one is being sent:
    polars releases the GIL, so the file, the CPU and the database work at the same time. The
    generator is only ever advanced by one thread at a time."""
    loop = asyncio.get_running_loop()
    pending = loop.run_in_executor(None, next, batches, None)
    while True:
        batch = await pending
        if batch is None:
            return
        pending = loop.run_in_executor(None, next, batches, None)
        try:
            yield batch
        except BaseException:
            with contextlib.suppress(BaseException):
                await pending  # never leave the worker reading a file that is about to be cleaned up
            raise


def masked_sample(spec: ExportSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Typed sample rows, schema-checked by the pydantic model, personal fields masked, JSON-ready."""
    personal = set(personal_columns(spec))
    sample = []
    for row in check_rows(spec, rows):
        shown: dict[str, Any] = {}
        for name, value in row.items():
            if name in personal and value is not None:
                text = str(value)
                value = mask_mobile(text) if sum(ch.isdigit() for ch in text) >= 10 else mask_name(text)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, str):
                value = redact_text(value)
            shown[name] = value
        sample.append(shown)
    return sample


def database_error(bucket: str, exc: BaseException) -> IngestError:
    """What a SQLAlchemy or driver error becomes: transient or not by `is_transient`, and without SQL
    parameters (they hold customer data): driver error type + first line."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = (str(orig).strip().splitlines() or [""])[0][:300]
    kind = TransientIngestError if is_transient(exc) else IngestError
    detail = f"{type(orig).__name__}: {redact_text(first_line)}"
    return kind(f"{bucket}: database error, bucket rolled back: {detail}")


async def ingest_merged(
    engine: AsyncEngine | None,
    spec: ExportSpec,
    merged_path: Path,
    *,
    run_id: str,
    report_date: date,
    batch_size: int,
    logger: EventLogger | None = None,
    dry_run: bool = False,
) -> IngestResult:
    """Validate and upsert `merged_path` into `spec`'s table in one transaction (see module doc)."""
    if engine is None and not dry_run:
        raise IngestError(f"{spec.bucket}: no database to ingest into")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    validator = Validator(spec)
    merged = MergedFile(spec, merged_path, validator)
    warnings: list[str] = []
    if merged.extra:
        warnings.append(f"{merged_path.name}: {len(merged.extra)} column(s) not in the registry ignored")
    if merged.duplicates.len():
        warnings.append(
            f"{merged_path.name}: {merged.duplicates.len()} row(s) repeat the key of a later row; "
            "the last occurrence is ingested"
        )
    rejects = RejectsFile(merged_path.parent / spec.rejects_file_name(report_date), enabled=not dry_run)
    totals = {"rejected": 0, "null_warnings": 0, "valid": 0}
    sample: list[dict[str, Any]] = []

    def validated() -> Iterator[BatchResult]:
        for offset, batch in merged.batches(batch_size):
            result = validator.validate(batch, file_name=merged_path.name, line_offset=offset)
            rejects.add(result.rejects)
            totals["rejected"] += result.rejected_rows
            totals["null_warnings"] += result.null_warnings
            totals["valid"] += result.valid.height
            if len(sample) < SAMPLE_ROWS and result.valid.height:
                sample.extend(result.valid.head(SAMPLE_ROWS - len(sample)).to_dicts())
            yield result

    counts = UpsertCounts()
    try:
        if dry_run or engine is None:
            async with contextlib.aclosing(prefetched(validated())) as batches:
                async for _ in batches:
                    pass
        else:
            try:
                async with engine.begin() as conn:
                    stager = await open_stager(conn, spec, run_id, report_date)
                    async with contextlib.aclosing(prefetched(validated())) as batches:
                        counts = await stager.load(b.valid async for b in batches)
            except (SQLAlchemyError, OSError) as exc:
                raise database_error(spec.bucket, exc) from None
            except pl.exceptions.PolarsError as exc:
                raise IngestError(
                    f"{spec.bucket}: merged file {merged_path.name} could not be read "
                    f"({type(exc).__name__}); bucket rolled back"
                ) from None
            except Exception as exc:
                # asyncpg's own errors (COPY runs on the raw driver connection) are not SQLAlchemy's.
                if type(exc).__module__.startswith("asyncpg"):
                    raise database_error(spec.bucket, exc) from None
                raise
        rejects_path = rejects.commit()
    finally:
        rejects.discard()

    if totals["rejected"]:
        warnings.append(f"{totals['rejected']} row(s) rejected")
    result = IngestResult(
        bucket=spec.bucket,
        merged_rows=merged.rows,
        rejected_rows=totals["rejected"],
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        ingested_rows=counts.inserted + counts.updated + counts.unchanged,
        null_warnings=totals["null_warnings"],
        rejects_path=rejects_path,
        dry_run=dry_run,
        warnings=warnings,
    )
    if logger is not None:
        _log(logger, spec, merged_path, result, rejects, sample, totals["valid"], started)
    return result


def _log(
    logger: EventLogger,
    spec: ExportSpec,
    merged_path: Path,
    result: IngestResult,
    rejects: RejectsFile,
    sample: list[dict[str, Any]],
    valid: int,
    started: float,
) -> None:
    counts = result.counts()
    duration_ms = (time.perf_counter() - started) * 1000
    if rejects.logged:
        logger.event(
            "ingest",
            "warn",
            f"{result.rejected_rows} row(s) rejected"
            + (f"; details in {result.rejects_path.name}" if result.rejects_path else ""),
            bucket=spec.bucket,
            merged_file=merged_path.name,
            first_rejects=rejects.logged,
        )
    if result.dry_run:
        logger.event(
            "ingest",
            "info",
            f"dry run: {valid} row(s) would be upserted, {result.rejected_rows} rejected; nothing written",
            bucket=spec.bucket,
            merged_file=merged_path.name,
            counts=counts,
            duration_ms=duration_ms,
            sample_rows=masked_sample(spec, sample),
        )
        return
    logger.event(
        "ingest",
        "warn" if result.warnings or result.null_warnings else "ok",
        f"ingested {result.ingested_rows} row(s): {result.inserted} inserted, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.rejected_rows} rejected, "
        f"{result.null_warnings} value(s) set NULL",
        bucket=spec.bucket,
        merged_file=merged_path.name,
        counts=counts,
        duration_ms=duration_ms,
        warnings=result.warnings or None,
    )
