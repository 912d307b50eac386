"""`crm ingest BUCKET FILE... [--date D] [--dry-run] [--delete-inputs]`: merge, ingest and audit per-store
files by hand.

The same path as the daily flow, run on copies in a work folder under DOWNLOADS_DIR: the user's files stay
where they are, byte for byte, unless `--delete-inputs` asks for them to go after an ok audit. The work
folder is removed after an ok audit and kept (its path printed) otherwise. Exit codes: 0 ok (or a dry
run), 1 a non-ok verdict, 2 bad arguments or configuration.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crm_core.cli.support import ReportDate, fail, out, parse_date, run_async, settings_or_exit, shown
from crm_core.exports import EXPORTS

if TYPE_CHECKING:
    from rich.table import Table

    from crm_core.ingest.audit import BucketOutcome
    from crm_core.ingest.files import FilesOutcome
    from crm_core.json_logger import EventLogger

PIPELINE = "crm_ingest"


def outcome_table(outcome: BucketOutcome, dry_run: bool) -> Table:
    from rich.table import Table

    # Collapsed padding: eight columns fit an 80-column terminal without cutting a heading.
    title = f"crm ingest {outcome.bucket}" + (" (dry run)" if dry_run else "")
    table = Table(title=title, collapse_padding=True, pad_edge=False)
    counts = outcome.counts()
    for name in ("download", "merged", "rejected", "inserted", "updated", "unchanged", "ingested"):
        table.add_column(name, justify="right")
    table.add_column("verdict")
    colour = {"ok": "green", "warn": "yellow", "error": "red"}[outcome.verdict]
    table.add_row(
        str(counts["download_total"]),
        str(counts["merged_rows"]),
        str(counts["rejected_rows"]),
        str(counts["inserted"]),
        str(counts["updated"]),
        str(counts["unchanged"]),
        str(counts["ingested_rows"]),
        f"[{colour}]{outcome.verdict}[/]",
    )
    return table


def print_outcome(result: FilesOutcome, logger: EventLogger, dry_run: bool) -> None:
    outcome = result.bucket
    out.print(outcome_table(outcome, dry_run))
    out.print(f"{outcome.verdict}: {shown(outcome.reason)}", highlight=False)
    if outcome.merge is not None:
        for store, rows in sorted(outcome.merge.download_rows_by_store.items()):
            out.print(shown(f"  store {store}: {rows} row(s) read"), highlight=False)
        for warning in outcome.merge.warnings:
            out.print(f"  merge warning: {shown(warning)}", highlight=False)
    if outcome.ingest is not None and outcome.ingest.rejects_path is not None:
        out.print(f"rejects: {shown(outcome.ingest.rejects_path)}", highlight=False)
    if outcome.files_deleted:
        out.print(f"work files deleted: {len(outcome.files_deleted)}", highlight=False)
    if outcome.files_kept and not dry_run:
        out.print(
            "files kept: " + shown(", ".join(Path(p).name for p in outcome.files_kept)), highlight=False
        )
    if result.work_dir is not None:
        out.print(f"work folder kept: {shown(result.work_dir)}", highlight=False)
    if result.inputs_deleted:
        out.print(f"input files deleted (--delete-inputs): {len(result.inputs_deleted)}", highlight=False)
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
                out.print("  " + shown(", ".join(f"{k}={v}" for k, v in row.items())), highlight=False)


def ingest(
    bucket: Annotated[str, typer.Argument(help=f"bucket: {', '.join(EXPORTS)}")],
    files: Annotated[list[Path], typer.Argument(help="per-store export files of that bucket")],
    date_: ReportDate = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "--dry_run", help="merge and validate only: no DB writes, no deletions"),
    ] = False,
    delete_inputs: Annotated[
        bool,
        typer.Option("--delete-inputs", help="delete the files given here after an ok audit"),
    ] = False,
) -> None:
    """Merge, validate and upsert per-store export files; works on copies, your files are kept."""
    spec = EXPORTS.get(bucket)
    if spec is None:
        fail(f"unknown bucket {bucket!r} (known: {', '.join(EXPORTS)})")
    from crm_core.ingest.files import files_by_store, ingest_files
    from crm_core.json_logger import EventLogger
    from crm_core.periods import daily_report_date
    from crm_core.settings import ConfigError

    try:
        by_store = files_by_store(spec, files)
    except ConfigError as exc:
        fail(str(exc))
    report_date = parse_date(date_)
    settings = settings_or_exit()
    day = report_date or daily_report_date(zone=settings.zone)
    run_id = uuid.uuid4().hex
    logger = EventLogger(run_id, PIPELINE, stream=None, file_path=settings.json_log_file, events=[])
    try:
        result = run_async(
            ingest_files(
                settings,
                spec,
                by_store,
                report_date=day,
                run_id=run_id,
                logger=logger,
                dry_run=dry_run,
                delete_inputs=delete_inputs,
            )
        )
    except ConfigError as exc:
        fail(str(exc))
    print_outcome(result, logger, dry_run)
    if result.bucket.verdict != "ok" and not dry_run:
        raise typer.Exit(1)
