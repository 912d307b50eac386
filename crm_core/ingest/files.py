"""Export files handed over by an operator (`crm ingest`): which store each belongs to, then the same
merge → validate → upsert → audit path as downloaded files.

The path runs on copies in a work folder of the run's own under DOWNLOADS_DIR: the audit's cleanup then
deletes only those copies, never the user's files (unless asked to with `delete_inputs`). The work folder
goes after an ok audit and stays, with everything in it, for inspection otherwise.
"""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crm_core.db.engine import open_engine
from crm_core.errors import TransientError
from crm_core.exports import ExportSpec, normalise_header
from crm_core.fsutil import atomic_writer, private_dir
from crm_core.ingest.audit import BucketOutcome
from crm_core.ingest.bucket import failed_bucket, process_bucket
from crm_core.json_logger import EventLogger
from crm_core.settings import ConfigError, Settings
from crm_core.store_codes import normalise_store_code

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
        try:
            store = normalise_store_code(store)  # it names a file in the work folder
        except ConfigError as exc:
            raise ConfigError(f"{path.name}: {exc}") from None
        if store in by_store:
            raise ConfigError(f"{path.name}: a second file for store {store} (first: {by_store[store].name})")
        by_store[store] = path
    return by_store


@dataclass
class FilesOutcome:
    """The bucket's outcome, the work folder (None once removed) and the user's files deleted."""

    bucket: BucketOutcome
    work_dir: Path | None
    inputs_deleted: list[Path] = field(default_factory=list)


def copy_to_work_dir(by_store: dict[str, Path], work_dir: Path) -> dict[str, Path]:
    """Each store's file copied into `work_dir` under its own name (prefixed by the store when two names
    collide)."""
    if work_dir.exists():
        raise FileExistsError(f"work folder {work_dir.name} already exists")
    private_dir(work_dir)
    copies: dict[str, Path] = {}
    names: set[str] = set()
    for store, path in by_store.items():
        name = path.name if path.name not in names else f"{store}-{path.name}"
        names.add(name)
        # Copied into a private file: the user's file may be readable by others, the copy is not.
        with path.open("rb") as src, atomic_writer(work_dir / name) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        copies[store] = work_dir / name
    return copies


async def ingest_files(
    settings: Settings,
    spec: ExportSpec,
    by_store: dict[str, Path],
    *,
    report_date: date,
    run_id: str,
    logger: EventLogger,
    dry_run: bool,
    delete_inputs: bool = False,
) -> FilesOutcome:
    """`process_bucket` on copies of the files; a dry run needs no database at all. A database that dropped
    out is the bucket's error (its transaction rolled back, the files kept): the user runs the command
    again. The user's files are deleted only with `delete_inputs` and an ok audit."""
    work_dir = settings.downloads_path / "ingest" / f"{spec.bucket}_{run_id}"
    try:
        copies = copy_to_work_dir(by_store, work_dir)
    except OSError as exc:
        raise ConfigError(f"cannot copy the files into {work_dir}: {type(exc).__name__}: {exc}") from exc
    options: dict[str, Any] = {
        "work_dir": work_dir,
        "report_date": report_date,
        "run_id": run_id,
        "batch_size": settings.ingest_batch_size,
        "logger": logger,
        "dry_run": dry_run,
    }
    if dry_run:
        outcome = await process_bucket(None, spec, copies, **options)
    else:
        try:
            async with open_engine(settings) as engine:
                outcome = await process_bucket(engine, spec, copies, **options)
        except TransientError as exc:
            outcome = failed_bucket(
                spec, copies, exc, work_dir=work_dir, report_date=report_date, logger=logger
            )
    result = FilesOutcome(outcome, work_dir)
    # A dry run's copies hold nothing worth keeping; an ok audit has already deleted them.
    if dry_run or (outcome.verdict == "ok" and not outcome.files_kept):
        shutil.rmtree(work_dir, ignore_errors=True)
        result.work_dir = None
    if delete_inputs and outcome.verdict == "ok" and not dry_run:
        for path in by_store.values():
            path.unlink(missing_ok=True)
            result.inputs_deleted.append(path)
    return result
