"""A run's status and issues come from its phase outcomes, however much it logged."""

from __future__ import annotations

from pathlib import Path

from crm_core.json_logger import EventLogger
from crm_core.reports.daily import NO_DATA_MESSAGE
from crm_core.reports.documents import ReportOutcome
from crm_core.status import Status
from tests.runs.conftest import download, failed_bucket, record_with


async def test_a_bucket_error_after_ten_thousand_events_still_decides_the_status(tmp_path: Path) -> None:
    logger = EventLogger("run-1", "dashboard_daily", stream=None)
    for i in range(10_001):
        logger.event("download", "ok", f"export downloaded {i}", store_code="A668")
    bucket = await failed_bucket(tmp_path, logger)
    assert bucket.verdict == "error"

    record = record_with(download(), {"missed_leads": bucket})
    # A bucket that could not be ingested is a warning for the run; its verdict stays error.
    assert record.status is Status.WARNING
    assert record.phases["ingest"].status is Status.WARNING
    assert record.phases["merge"].status is Status.OK
    assert record.issues == [
        f"bucket missed_leads: {bucket.reason}",
        "bucket missed_leads: audit error: " + bucket.reason,
        "bucket missed_leads: 2 file(s) kept for inspection",
    ]

    failed_pdf = ReportOutcome("A817", "error", message="render failed: OSError: disk full")
    record.set_phase("report", record_with(download(), reports=[failed_pdf]).phases["report"])
    assert record.status is Status.ERROR
    assert "store A817: render failed: OSError: disk full" in record.issues


def test_download_status_login_error_and_failed_store_warning() -> None:
    assert record_with(download()).status is Status.OK
    failed = record_with(download(failed_store="A817"))
    assert failed.status is Status.WARNING
    assert failed.phases["download"].detail == "2/3 stores"
    assert failed.issues == ["store A817: download failed: missed_leads: HTTP 500"]
    login = record_with(download(login_failed=True))
    assert login.status is Status.ERROR
    assert login.issues == ["portal login failed: bad password"]  # not one line per store as well


def test_report_no_data_is_a_warning_and_phases_keep_the_registry_order() -> None:
    reports = [
        ReportOutcome("A668", "ok", message="ok", path=Path("A668.pdf")),
        ReportOutcome("A817", "no_data", message=NO_DATA_MESSAGE),
    ]
    record = record_with(download(), reports=reports)
    assert record.status is Status.WARNING
    assert record.phases["report"].detail == "1 PDFs"
    assert [phase for phase, _ in record.outcomes()] == ["download", "report"]
    metrics = record.metrics_json()
    assert metrics["pdf"]["records"] == [{"store_code": "A668", "file_path": "A668.pdf"}]
    assert metrics["stores"]["report_failures"] == {"A817": NO_DATA_MESSAGE}
    assert set(metrics) == {"dry_run", "stores", "download", "buckets", "pdf", "email", "backfill", "issues"}
    assert metrics["issues"] == [f"store A817: {NO_DATA_MESSAGE}"]
