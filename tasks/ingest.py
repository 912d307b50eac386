"""The Prefect task of the files → database phase; every decision lives in crm_core.ingest.

`process_bucket_task` is what the daily flow runs per bucket. Data and schema failures are the bucket's
`error` verdict, never a failed task; a transient database failure is retried (the bucket's transaction
rolled back and its files are kept, so the retry starts clean from the same files).
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from crm_core.ingest import process_bucket
from tasks.common import TRANSIENT_RETRIES

# cache_policy=NONE, persist_result=False: engines, loggers and files are live state, nothing to hash or
# cache, nothing worth persisting.
process_bucket_task = task(
    name="process-bucket",
    task_run_name="process-{spec.bucket}",
    **TRANSIENT_RETRIES,
    cache_policy=NONE,
    persist_result=False,
)(process_bucket)
