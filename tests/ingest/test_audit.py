"""The audit rule of one bucket: which counts make it ok, and what a dry run or an error says."""

from __future__ import annotations

from pathlib import Path

from crm_core.ingest.audit import DRY_RUN_REASON, BucketOutcome, audit_and_cleanup
from crm_core.ingest.load import IngestResult
from crm_core.ingest.merge import MergeResult
from crm_core.json_logger import EventLogger
from crm_core.status import Status


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


def bucket_files(tmp_path: Path, rejects: bool = True) -> tuple[MergeResult, IngestResult]:
    """A bucket whose per-store, merged and rejects files exist on disk; counts reconcile."""
    stores = {code: tmp_path / f"{code.lower()}.csv" for code in ("B200", "A100")}
    for path in stores.values():
        path.write_text("lead_id\n1\n")
    merged = tmp_path / "merged.csv"
    merged.write_text("lead_id,name\n1,=HYPERLINK(1)\n2,ok\n")
    rejects_path = tmp_path / "rejects.csv" if rejects else None
    if rejects_path is not None:
        rejects_path.write_text("lead_id,reason\n3,bad\n")
    merge = MergeResult(
        bucket="missed_leads",
        merged_path=merged,
        download_rows_by_store={"A100": 1, "B200": 1},
        download_total=2,
        raw_rows=2,
        merged_rows=4,
        source_files=stores,
    )
    ingest = IngestResult(
        bucket="missed_leads",
        merged_rows=4,
        rejected_rows=0,
        inserted=2,
        updated=1,
        ingested_rows=4,
        null_warnings=0,
        rejects_path=rejects_path,
        dry_run=False,
        unchanged=1,
    )
    return merge, ingest


def logger() -> EventLogger:
    return EventLogger(run_id="r", pipeline="dashboard_daily", stream=None, events=[])


def events(log: EventLogger) -> list[dict[str, object]]:
    assert log.events is not None
    return log.events


def test_each_verdict_has_its_reason() -> None:
    merge, ingest = result(4, 0, 3, 1)
    ingest.unchanged = 1
    ingest.inserted, ingest.updated, ingest.ingested_rows = 2, 1, 4
    ok = audit_and_cleanup(merge, ingest, dry_run=False)
    assert (ok.verdict, ok.reason) == ("ok", "4 row(s) ingested (2 new, 1 updated, 1 unchanged)")
    both = audit_and_cleanup(*result(4, 2, 1, 1), dry_run=False)
    assert both.reason == "2 row(s) rejected; ingested 2 of 4 merged rows"
    assert audit_and_cleanup(*result(4, 2, 3, 1), dry_run=False).reason == "2 row(s) rejected"
    dry_not_ingested = audit_and_cleanup(merge, None, dry_run=True)
    assert dry_not_ingested.phase_issues("ingest") == ["bucket missed_leads: merged file not ingested"]
    not_ingested = audit_and_cleanup(merge, None, dry_run=False)
    assert (not_ingested.verdict, not_ingested.reason) == ("warn", "merged file not ingested")
    merge.merged_path = None
    no_input = audit_and_cleanup(merge, None, dry_run=False)
    assert (no_input.verdict, no_input.reason) == ("warn", "no input file: nothing merged or ingested")
    # the error wins over a dry run, the dry run over everything the counts say
    assert audit_and_cleanup(merge, None, dry_run=True, error="boom").reason == "boom"
    dry = audit_and_cleanup(merge, None, dry_run=True)
    assert (dry.verdict, dry.reason) == ("warn", DRY_RUN_REASON)


def test_ok_bucket_deletes_every_file_and_logs_the_audit_and_cleanup(tmp_path: Path) -> None:
    merge, ingest = bucket_files(tmp_path)
    log = logger()
    outcome = audit_and_cleanup(merge, ingest, dry_run=False, logger=log)
    assert outcome.verdict == "ok"
    # stores in sorted order, then the merged file, then the rejects
    assert [Path(p).name for p in outcome.files_deleted] == [
        "a100.csv",
        "b200.csv",
        "merged.csv",
        "rejects.csv",
    ]
    assert outcome.files_kept == [] and list(tmp_path.iterdir()) == []
    audit, cleanup = events(log)
    assert (audit["phase"], audit["status"], audit["message"]) == (
        "audit",
        "ok",
        f"audit ok: {outcome.reason}",
    )
    assert audit["bucket"] == "missed_leads" and audit["merged_file"] == "merged.csv"
    assert audit["counts"] == outcome.counts() == cleanup["counts"]
    assert (cleanup["phase"], cleanup["status"]) == ("cleanup", "ok")
    assert cleanup["message"] == "files removed after successful audit (4)"
    assert cleanup["bucket"] == "missed_leads"
    assert cleanup["extras"] == {"files_deleted": ["a100.csv", "b200.csv", "merged.csv", "rejects.csv"]}
    assert outcome.phase_status("cleanup") is Status.OK and outcome.phase_issues("cleanup") == []


def test_a_file_that_cannot_be_deleted_is_kept_and_named(tmp_path: Path) -> None:
    merge, ingest = bucket_files(tmp_path, rejects=False)
    for code in ("A100", "B200"):
        merge.source_files[code].unlink()
        merge.source_files[code].mkdir()  # unlink() of a directory fails like a locked file
    log = logger()
    outcome = audit_and_cleanup(merge, ingest, dry_run=False, logger=log)
    assert outcome.verdict == "ok"
    assert outcome.files_kept == [str(merge.source_files["A100"]), str(merge.source_files["B200"])]
    assert [Path(p).name for p in outcome.files_deleted] == ["merged.csv"]
    cleanup = events(log)[-1]
    assert cleanup["status"] == "warn"
    assert cleanup["message"] == (
        "files removed after successful audit (1); could not delete a100.csv (IsADirectoryError), "
        "b200.csv (IsADirectoryError)"
    )
    assert outcome.phase_status("cleanup") is Status.WARNING
    assert outcome.phase_issues("cleanup") == ["bucket missed_leads: could not delete a100.csv, b200.csv"]


def test_a_warning_keeps_every_existing_file_and_makes_the_merged_file_inert(tmp_path: Path) -> None:
    merge, ingest = bucket_files(tmp_path)
    ingest.rejected_rows = 1
    merge.source_files["Z900"] = tmp_path / "gone.csv"  # listed but not on disk: not reported as kept
    log = logger()
    outcome = audit_and_cleanup(merge, ingest, dry_run=False, logger=log)
    assert outcome.verdict == "warn" and outcome.files_deleted == []
    assert [Path(p).name for p in outcome.files_kept] == ["a100.csv", "b200.csv", "merged.csv", "rejects.csv"]
    assert "'=HYPERLINK(1)" in (tmp_path / "merged.csv").read_text()
    audit, cleanup = events(log)
    assert (audit["status"], audit["message"]) == ("warn", "audit warn: 1 row(s) rejected")
    assert (cleanup["phase"], cleanup["status"]) == ("cleanup", "warn")
    assert cleanup["message"] == "files kept (4): 1 row(s) rejected"
    assert cleanup["bucket"] == "missed_leads" and cleanup["counts"] == outcome.counts()
    assert cleanup["extras"] == {"files_kept": ["a100.csv", "b200.csv", "merged.csv", "rejects.csv"]}
    assert outcome.phase_issues("audit") == ["bucket missed_leads: audit warn: 1 row(s) rejected"]
    assert outcome.phase_issues("cleanup") == ["bucket missed_leads: 4 file(s) kept for inspection"]
    assert outcome.phase_status("audit") is Status.WARNING


def test_an_error_is_a_bucket_failure_and_a_dry_run_is_information(tmp_path: Path) -> None:
    merge, ingest = bucket_files(tmp_path)
    log = logger()
    errored = audit_and_cleanup(merge, ingest, dry_run=False, logger=log, error="database gone")
    assert [(e["phase"], e["status"]) for e in events(log)] == [("audit", "warn"), ("cleanup", "warn")]
    assert errored.phase_issues("audit") == ["bucket missed_leads: audit error: database gone"]
    log = logger()
    dry = audit_and_cleanup(merge, None, dry_run=True, logger=log)
    assert [(e["phase"], e["status"]) for e in events(log)] == [("audit", "info"), ("cleanup", "info")]
    assert events(log)[0]["counts"] == dry.counts()
    assert dry.dry_run_only and dry.files_deleted == [] and len(dry.files_kept) == 3  # no rejects file
    assert "'=HYPERLINK(1)" in (tmp_path / "merged.csv").read_text()
    # a dry run's kept files are what the operator asked for: no issue in any phase
    assert all(dry.phase_issues(p) == [] for p in ("merge", "audit", "cleanup"))
    assert dry.phase_status("cleanup") is Status.OK
    dry_error = audit_and_cleanup(merge, None, dry_run=True, error="boom")
    assert not dry_error.dry_run_only
    assert dry_error.phase_issues("audit") == ["bucket missed_leads: audit error: boom"]
    assert dry_error.phase_issues("cleanup") == []  # a dry run keeps its files anyway


def test_no_logger_still_judges_and_cleans_up(tmp_path: Path) -> None:
    merge, ingest = bucket_files(tmp_path)
    assert len(audit_and_cleanup(merge, ingest, dry_run=False).files_deleted) == 4
    merge, ingest = bucket_files(tmp_path)
    ingest.ingested_rows = 3
    assert len(audit_and_cleanup(merge, ingest, dry_run=False).files_kept) == 4


def test_which_phases_a_bucket_reached() -> None:
    merge, ingest = result(4, 0, 3, 1)
    ok = audit_and_cleanup(merge, ingest, dry_run=False)
    assert [ok.phase_status(p) for p in ("merge", "ingest", "audit", "cleanup", "report")] == [
        Status.OK,
        Status.OK,
        Status.OK,
        Status.OK,
        None,
    ]
    assert ok.phase_issues("report") == []
    never_merged = BucketOutcome("missed_leads", None, None, "error", "disk full")
    assert [never_merged.phase_status(p) for p in ("merge", "ingest", "audit", "cleanup")] == [
        Status.WARNING,
        None,
        None,
        None,
    ]
    assert never_merged.phase_issues("merge") == ["bucket missed_leads: disk full"]
    assert all(never_merged.phase_issues(p) == [] for p in ("ingest", "audit", "cleanup"))
    merge.merged_path = None
    merge.warnings = ["store B200: empty file"]
    nothing = audit_and_cleanup(merge, None, dry_run=False)
    assert [nothing.phase_status(p) for p in ("merge", "ingest", "audit", "cleanup")] == [
        Status.WARNING,
        None,
        Status.WARNING,
        Status.WARNING,
    ]
    assert nothing.phase_issues("merge") == [
        "bucket missed_leads: store B200: empty file",
        "bucket missed_leads: no input file exists; nothing merged",
    ]
    assert nothing.phase_issues("ingest") == []
    assert nothing.phase_issues("cleanup") == ["bucket missed_leads: 0 file(s) kept for inspection"]


def test_ingest_issues_name_rejects_warnings_and_nulls() -> None:
    merge, ingest = result(4, 2, 1, 1)
    ingest.rejects_path = Path("/nonexistent/missed_leads_rejects.csv")
    ingest.warnings = ["2 row(s) rejected", "column x: 1 value(s) too long"]
    ingest.null_warnings = 3
    outcome = audit_and_cleanup(merge, ingest, dry_run=False)
    assert outcome.phase_issues("ingest") == [
        "bucket missed_leads: 2 row(s) rejected; details in missed_leads_rejects.csv",
        "bucket missed_leads: column x: 1 value(s) too long",
        "bucket missed_leads: 3 value(s) set NULL",
    ]
    assert outcome.phase_status("ingest") is Status.WARNING
    ingest.rejects_path = None
    ingest.dry_run = True  # a dry run's warnings and NULLs are only previews
    assert audit_and_cleanup(merge, ingest, dry_run=True).phase_issues("ingest") == [
        "bucket missed_leads: 2 row(s) rejected"
    ]
    dry_not_ingested = audit_and_cleanup(merge, None, dry_run=True)
    assert dry_not_ingested.phase_issues("ingest") == ["bucket missed_leads: merged file not ingested"]
    not_ingested = audit_and_cleanup(merge, None, dry_run=False)
    assert not_ingested.phase_issues("ingest") == ["bucket missed_leads: merged file not ingested"]
    failed = audit_and_cleanup(merge, None, dry_run=False, error="database gone")
    assert failed.phase_issues("ingest") == ["bucket missed_leads: database gone"]
    clean = audit_and_cleanup(*result(4, 0, 3, 1), dry_run=False)
    assert clean.phase_issues("ingest") == [] and clean.phase_status("ingest") is Status.OK


def test_counts_and_metrics_of_a_bucket() -> None:
    merge, ingest = result(4, 1, 2, 1)
    merge.download_total = 5
    ingest.unchanged, ingest.null_warnings = 1, 2
    ingest.rejects_path = Path("/nonexistent/rejects.csv")
    outcome = audit_and_cleanup(merge, ingest, dry_run=False)
    counts = {
        "download_total": 5,
        "merged_rows": 4,
        "rejected_rows": 1,
        "inserted": 2,
        "updated": 1,
        "unchanged": 1,
        "ingested_rows": 3,
    }
    assert outcome.counts() == counts
    assert outcome.as_metrics() == {
        "stores": {"A668": 4},
        "counts": counts | {"null_warnings": 2},
        "merged_file": "/nonexistent/merged.csv",
        "rejects_file": "/nonexistent/rejects.csv",
        "verdict": "warn",
        "reason": "1 row(s) rejected; ingested 3 of 4 merged rows",
        "files_deleted": [],
        "files_kept": [],
    }
    empty = BucketOutcome("missed_leads", None, None, "error", "disk full")
    assert set(empty.counts().values()) == {0} and len(empty.counts()) == 7
    assert empty.as_metrics() == {
        "stores": {},
        "counts": dict.fromkeys(counts, 0) | {"null_warnings": 0},
        "merged_file": None,
        "rejects_file": None,
        "verdict": "error",
        "reason": "disk full",
        "files_deleted": [],
        "files_kept": [],
    }
    merge.merged_path = None
    log = logger()
    assert audit_and_cleanup(merge, None, dry_run=False, logger=log).as_metrics()["merged_file"] is None
    assert events(log)[0]["merged_file"] is None
