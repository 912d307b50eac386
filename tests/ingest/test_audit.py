"""The audit rule of one bucket: which counts make it ok, and what a dry run or an error says."""

from __future__ import annotations

from pathlib import Path

from crm_core.ingest.audit import DRY_RUN_REASON, audit_and_cleanup
from crm_core.ingest.load import IngestResult
from crm_core.ingest.merge import MergeResult


def result(merged_rows: int, rejected: int, inserted: int, updated: int) -> tuple[MergeResult, IngestResult]:
    merge = MergeResult(
        bucket="missed_leads",
        merged_path=Path("/nonexistent/merged.csv"),
        download_rows_by_store={"A668": merged_rows},
        download_total=merged_rows,
        raw_rows=merged_rows,
        merged_rows=merged_rows,
        source_files={"A668": Path("/nonexistent/a.csv")},
    )
    ingest = IngestResult(
        bucket="missed_leads",
        merged_rows=merged_rows,
        rejected_rows=rejected,
        inserted=inserted,
        updated=updated,
        ingested_rows=inserted + updated,
        null_warnings=0,
        rejects_path=None,
        dry_run=False,
    )
    return merge, ingest


def test_audit_rule_ok_only_when_nothing_rejected_and_counts_reconcile() -> None:
    assert audit_and_cleanup(*result(4, 0, 3, 1), dry_run=False).verdict == "ok"
    mismatch = audit_and_cleanup(*result(4, 0, 3, 0), dry_run=False)
    assert mismatch.verdict == "warn" and mismatch.reason == "ingested 3 of 4 merged rows"
    assert (
        audit_and_cleanup(*result(4, 1, 3, 1), dry_run=False).verdict == "warn"
    )  # count equal, but a reject
    errored = audit_and_cleanup(*result(4, 0, 4, 0), dry_run=False, error="boom")
    assert (errored.verdict, errored.reason) == ("error", "boom")
    assert audit_and_cleanup(*result(4, 0, 0, 0), dry_run=True).reason == DRY_RUN_REASON
