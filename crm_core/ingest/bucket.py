"""One bucket from its per-store files to the database: merge → load → audit and cleanup.

Permanent failures (a merged file that cannot be written, bad data, schema or constraint problems) become
the bucket's `error` verdict with every file kept, so one bucket cannot stop the others. A transient
database failure (connection dropped mid-bucket, database unreachable) propagates as a `TransientError`
instead, for the caller to run the bucket again: its transaction rolled back, nothing of it is stored, and
its files are kept (the merge is simply redone from the per-store files). When the caller gives up,
`failed_bucket` is the bucket's `error` outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.errors import CrmError, TransientError, is_transient
from crm_core.exports import ExportSpec
from crm_core.ingest.audit import BUCKET_FAILURE, BucketOutcome, audit_and_cleanup
from crm_core.ingest.load import IngestResult, ingest_merged
from crm_core.ingest.merge import merge_bucket
from crm_core.json_logger import EventLogger, describe_exception


async def process_bucket(
    engine: AsyncEngine | None,
    spec: ExportSpec,
    files: Mapping[str, Path],
    *,
    work_dir: Path,
    report_date: date,
    run_id: str,
    batch_size: int,
    logger: EventLogger,
    dry_run: bool,
) -> BucketOutcome:
    """Merge, load, audit and clean up one bucket (see the module doc for what fails how)."""
    try:
        merge = merge_bucket(spec, files, work_dir, report_date, logger)
    except Exception as exc:
        return failed_bucket(
            spec,
            files,
            exc,
            work_dir=work_dir,
            report_date=report_date,
            logger=logger,
            phase="merge",
            dry_run=dry_run,
        )

    ingest: IngestResult | None = None
    error: str | None = None
    if merge.merged_path is not None:
        if engine is None and not dry_run:
            error = "no database configured: bucket not ingested"
            logger.event("ingest", BUCKET_FAILURE, error, bucket=spec.bucket)
        else:
            try:
                ingest = await ingest_merged(
                    None if dry_run else engine,
                    spec,
                    merge.merged_path,
                    run_id=run_id,
                    report_date=report_date,
                    batch_size=batch_size,
                    logger=logger,
                    dry_run=dry_run,
                )
            except Exception as exc:
                error = _reason(spec, "ingest", exc)
                if is_transient(exc):
                    # Not a warning yet: the retry may well succeed; `failed_bucket` warns when it does not.
                    logger.event(
                        "ingest",
                        "info",
                        f"{error}; files kept for a retry",
                        bucket=spec.bucket,
                        merged_file=merge.merged_path.name,
                    )
                    if isinstance(exc, TransientError):
                        raise
                    raise TransientError(error) from exc
                logger.event(
                    "ingest", BUCKET_FAILURE, error, bucket=spec.bucket, merged_file=merge.merged_path.name
                )
    return audit_and_cleanup(merge, ingest, dry_run=dry_run, logger=logger, error=error)


def failed_bucket(
    spec: ExportSpec,
    files: Mapping[str, Path],
    error: BaseException | str | None,
    *,
    work_dir: Path,
    report_date: date,
    logger: EventLogger,
    phase: str = "ingest",
    dry_run: bool = False,
) -> BucketOutcome:
    """The `error` outcome of a bucket that could not be processed (its merge failed, or its transient
    retries ran out): logged as the bucket's warning, every file it has kept for inspection or a rerun."""
    reason = error if isinstance(error, str) else _reason(spec, phase, error)
    logger.event(phase, BUCKET_FAILURE, reason, bucket=spec.bucket)
    candidates = [*files.values(), work_dir / spec.merged_file_name(report_date)]
    kept = [str(p) for p in candidates if Path(p).exists()]
    return BucketOutcome(spec.bucket, None, None, "error", reason, files_kept=kept, dry_run=dry_run)


def _reason(spec: ExportSpec, phase: str, exc: BaseException | None) -> str:
    # The product's own messages name the bucket and carry no row values; anything else is described.
    if isinstance(exc, CrmError):
        return str(exc)
    return f"{spec.bucket}: {phase} failed: {describe_exception(exc) if exc is not None else 'no result'}"
