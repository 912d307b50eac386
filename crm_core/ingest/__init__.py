"""Files → database, per bucket: merge the per-store files, validate and load the merged file in one
transaction, audit the counts and clean up (`process_bucket` runs the sequence)."""

from crm_core.ingest.audit import BucketOutcome, audit_and_cleanup
from crm_core.ingest.bucket import failed_bucket, process_bucket
from crm_core.ingest.load import IngestError, IngestResult, TransientIngestError, ingest_merged
from crm_core.ingest.merge import MergeError, MergeResult, merge_bucket
from crm_core.ingest.validate import Validator, row_model, validate_row

__all__ = [
    "BucketOutcome",
    "IngestError",
    "IngestResult",
    "MergeError",
    "MergeResult",
    "TransientIngestError",
    "Validator",
    "audit_and_cleanup",
    "failed_bucket",
    "ingest_merged",
    "merge_bucket",
    "process_bucket",
    "row_model",
    "validate_row",
]
