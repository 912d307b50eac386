"""Export files handed over by an operator (`crm ingest`): which store each belongs to, then the same
merge → validate → upsert → audit path as downloaded files."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Any

from crm_core.db.engine import open_engine
from crm_core.errors import TransientError
from crm_core.exports import ExportSpec, normalise_header
from crm_core.ingest.audit import BucketOutcome
from crm_core.ingest.bucket import failed_bucket, process_bucket
from crm_core.json_logger import EventLogger
from crm_core.settings import ConfigError, Settings

_STORE_IN_NAME = re.compile(r"^([A-Za-z]+[0-9]+)-")
_ROWS_SCANNED = 200


def infer_store(spec: ExportSpec, path: Path) -> str | None:
    """The store a per-store file belongs to: its first store_code value, else the `<CODE>-…` name."""
    header_map = spec.header_map()
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            positions = [
                i for i, h in enumerate(header) if header_map.get(normalise_header(h)) == "store_code"
            ]
            if positions:
                for n, row in enumerate(reader):
                    value = row[positions[0]].strip().upper() if len(row) > positions[0] else ""
                    if value:
                        return value
                    if n >= _ROWS_SCANNED:
                        break
    except (OSError, csv.Error):
        pass
    match = _STORE_IN_NAME.match(path.name)
    return match.group(1).upper() if match else None


def files_by_store(spec: ExportSpec, files: list[Path]) -> dict[str, Path]:
    """One file per store, as the merge expects; `ConfigError` for a missing file, a file whose store
    cannot be told, or a second file of the same store."""
    for path in files:
        if not path.is_file():
            raise ConfigError(f"no such file: {path}")
    by_store: dict[str, Path] = {}
    for path in files:
        store = infer_store(spec, path)
        if store is None:
            raise ConfigError(f"{path.name}: cannot tell its store (no store_code value, name not <CODE>-…)")
        if store in by_store:
            raise ConfigError(f"{path.name}: a second file for store {store} (first: {by_store[store].name})")
        by_store[store] = path
    return by_store


async def ingest_files(
    settings: Settings,
    spec: ExportSpec,
    by_store: dict[str, Path],
    *,
    report_date: date,
    run_id: str,
    logger: EventLogger,
    dry_run: bool,
) -> BucketOutcome:
    """`process_bucket` on the files; a dry run needs no database at all. A database that dropped out is
    the bucket's error (its transaction rolled back, the files kept): the user runs the command again."""
    options: dict[str, Any] = {
        "work_dir": next(iter(by_store.values())).resolve().parent,
        "report_date": report_date,
        "run_id": run_id,
        "batch_size": settings.ingest_batch_size,
        "logger": logger,
        "dry_run": dry_run,
    }
    if dry_run:
        return await process_bucket(None, spec, by_store, **options)
    try:
        async with open_engine(settings) as engine:
            return await process_bucket(engine, spec, by_store, **options)
    except TransientError as exc:
        return failed_bucket(
            spec, by_store, exc, work_dir=options["work_dir"], report_date=report_date, logger=logger
        )
