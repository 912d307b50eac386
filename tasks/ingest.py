"""The Prefect task of the files → database phase; every decision lives in crm_core.ingest.

`process_bucket_task` is what the daily flow runs per bucket. Data and schema failures are the bucket's
`error` verdict, never a failed task; a transient database failure is retried (the bucket's transaction
rolled back and its files are kept, so the retry starts clean from the same files).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.exports import ExportSpec
from crm_core.ingest import BucketOutcome, process_bucket
from crm_core.json_logger import EventLogger
from tasks.common import TRANSIENT_RETRIES


# cache_policy=NONE, persist_result=False: engines, loggers and files are live state, nothing to hash or
# cache, nothing worth persisting.
@task(
    name="process-bucket",
    task_run_name="process-{spec.bucket}",
    **TRANSIENT_RETRIES,
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
