"""Prefect tasks of the merge → ingest → audit/cleanup phases; every decision lives in crm_core.

`process_bucket_task` is what the daily flow runs per bucket (it never fails for data or database errors:
they become the bucket's `error` verdict). The three step tasks exist for flows that want the phases as
separate task runs; `ingest_task` retries transient database errors (its transaction rolled back, so a
retry starts clean).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.audit import BucketOutcome, audit_and_cleanup, process_bucket
from crm_core.exports import ExportSpec
from crm_core.ingest import IngestResult, ingest_merged
from crm_core.json_logger import EventLogger
from crm_core.merge import MergeResult, merge_bucket
from tasks.common import TRANSIENT_RETRIES

# Every task: cache_policy=NONE, persist_result=False. Engines, loggers and files are live state:
# nothing to hash or cache, nothing worth persisting.


@task(name="merge-bucket", cache_policy=NONE, persist_result=False)
def merge_task(
    spec: ExportSpec,
    files: Mapping[str, Path],
    out_dir: Path,
    report_date: date,
    logger: EventLogger | None = None,
) -> MergeResult:
    return merge_bucket(spec, files, out_dir, report_date, logger)


@task(
    name="ingest-bucket",
    **TRANSIENT_RETRIES,  # IngestError.transient: connection trouble only
    cache_policy=NONE,
    persist_result=False,
)
async def ingest_task(
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
    return await ingest_merged(
        engine,
        spec,
        merged_path,
        run_id=run_id,
        report_date=report_date,
        batch_size=batch_size,
        logger=logger,
        dry_run=dry_run,
    )


@task(name="audit-cleanup-bucket", cache_policy=NONE, persist_result=False)
def audit_cleanup_task(
    merge: MergeResult,
    ingest: IngestResult | None,
    *,
    dry_run: bool,
    logger: EventLogger | None = None,
    error: str | None = None,
) -> BucketOutcome:
    return audit_and_cleanup(merge, ingest, dry_run=dry_run, logger=logger, error=error)


@task(
    name="process-bucket",
    task_run_name="process-{spec.bucket}",
    cache_policy=NONE,
    persist_result=False,
)
async def process_bucket_task(
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
    return await process_bucket(
        engine,
        spec,
        files,
        work_dir=work_dir,
        report_date=report_date,
        run_id=run_id,
        batch_size=batch_size,
        logger=logger,
        dry_run=dry_run,
    )
