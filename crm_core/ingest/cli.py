"""`crm ingest BUCKET FILE... [--date D] [--dry-run]`: merge, ingest and audit per-store files by hand.

The same `process_bucket` as the daily flow: the files are consumed exactly like downloaded ones (deleted
only when the audit is ok). Exit codes: 0 ok (or a dry run), 1 a non-ok verdict, 2 bad arguments or
configuration.
"""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from crm_core.cli_support import fail, out, run_async, settings_or_exit
from crm_core.db.engine import open_engine
from crm_core.exports import EXPORTS, ExportSpec, normalise_header
from crm_core.ingest.audit import BucketOutcome
from crm_core.ingest.bucket import process_bucket
from crm_core.json_logger import EventLogger
from crm_core.periods import daily_report_date
from crm_core.run_cli import parse_date

PIPELINE = "crm_ingest"
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


def outcome_table(outcome: BucketOutcome, dry_run: bool) -> Table:
    table = Table(title=f"crm ingest {outcome.bucket}" + (" (dry run)" if dry_run else ""))
    counts = outcome.counts()
    for name in ("download", "merged", "rejected", "inserted", "updated", "ingested"):
        table.add_column(name, justify="right")
    table.add_column("verdict")
    colour = {"ok": "green", "warn": "yellow", "error": "red"}[outcome.verdict]
    table.add_row(
        str(counts["download_total"]),
        str(counts["merged_rows"]),
        str(counts["rejected_rows"]),
        str(counts["inserted"]),
        str(counts["updated"]),
        str(counts["ingested_rows"]),
        f"[{colour}]{outcome.verdict}[/]",
    )
    return table


def print_outcome(outcome: BucketOutcome, logger: EventLogger, dry_run: bool) -> None:
    out.print(outcome_table(outcome, dry_run))
    out.print(f"{outcome.verdict}: {escape(outcome.reason)}", highlight=False)
    if outcome.merge is not None:
        for store, rows in sorted(outcome.merge.download_rows_by_store.items()):
            out.print(f"  store {store}: {rows} row(s) read", highlight=False)
        for warning in outcome.merge.warnings:
            out.print(f"  merge warning: {escape(warning)}", highlight=False)
    if outcome.ingest is not None and outcome.ingest.rejects_path is not None:
        out.print(f"rejects: {escape(str(outcome.ingest.rejects_path))}", highlight=False)
    if outcome.files_deleted:
        out.print(f"files deleted: {len(outcome.files_deleted)}", highlight=False)
    if outcome.files_kept:
        out.print(
            "files kept: " + escape(", ".join(Path(p).name for p in outcome.files_kept)), highlight=False
        )
    if dry_run:
        samples: list[dict[str, Any]] = next(
            (
                e["extras"]["sample_rows"]
                for e in logger.events or []
                if e["phase"] == "ingest" and e["extras"] and "sample_rows" in e["extras"]
            ),
            [],
        )
        if samples:
            out.print("plan: nothing written, nothing deleted; sample rows (personal fields masked):")
            for row in samples:
                out.print("  " + escape(", ".join(f"{k}={v}" for k, v in row.items())), highlight=False)


def ingest_command(
    bucket: Annotated[str, typer.Argument(help=f"bucket: {', '.join(EXPORTS)}")],
    files: Annotated[list[Path], typer.Argument(help="per-store export files of that bucket")],
    date_: Annotated[str | None, typer.Option("--date", help="report date YYYY-MM-DD (default: T-1)")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "--dry_run", help="merge and validate only: no DB writes, no deletions"),
    ] = False,
) -> None:
    """Merge, validate and upsert per-store export files; files are deleted only on an ok audit."""
    spec = EXPORTS.get(bucket)
    if spec is None:
        fail(f"unknown bucket {bucket!r} (known: {', '.join(EXPORTS)})")
    for path in files:
        if not path.is_file():
            fail(f"no such file: {path}")
    report_date = parse_date(date_)
    settings = settings_or_exit()
    by_store: dict[str, Path] = {}
    for path in files:
        store = infer_store(spec, path)
        if store is None:
            fail(f"{path.name}: cannot tell its store (no store_code value, name not <CODE>-…)")
        if store in by_store:
            fail(f"{path.name}: a second file for store {store} (first: {by_store[store].name})")
        by_store[store] = path
    day = report_date or daily_report_date(zone=settings.zone)
    run_id = uuid.uuid4().hex
    logger = EventLogger(run_id, PIPELINE, stream=None, file_path=settings.json_log_file, events=[])

    async def _run() -> BucketOutcome:
        options: dict[str, Any] = {
            "work_dir": files[0].resolve().parent,
            "report_date": day,
            "run_id": run_id,
            "batch_size": settings.ingest_batch_size,
            "logger": logger,
            "dry_run": dry_run,
        }
        if dry_run:
            return await process_bucket(None, spec, by_store, **options)
        async with open_engine(settings) as engine:
            return await process_bucket(engine, spec, by_store, **options)

    outcome = run_async(_run())
    print_outcome(outcome, logger, dry_run)
    if outcome.verdict != "ok" and not dry_run:
        raise typer.Exit(1)
