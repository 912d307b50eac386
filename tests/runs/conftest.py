"""Run records built from real phase results: a download, buckets processed by the real merge/ingest
path (without a database), store reports and a notification outcome."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from crm_core.db.stores import StoreScope
from crm_core.exports import MISSED_LEADS
from crm_core.ingest.audit import BucketOutcome
from crm_core.ingest.bucket import process_bucket
from crm_core.json_logger import EventLogger
from crm_core.portal.download import DownloadResult, ExportResult, StoreResult
from crm_core.reports.documents import ReportOutcome, ReportsResult
from crm_core.runs.daily import daily_record
from crm_core.runs.phases import BUCKET_PHASES, BucketPhase, DownloadPhase, ReportPhase
from crm_core.runs.record import RunRecord

DAY = date(2025, 11, 19)
STARTED = datetime(2025, 11, 20, 2, 0, tzinfo=UTC)
VENDOR_HEADER = (
    "id,mobile_number,pickup_no,pickup_created_date,pickup_created_time,store_code,store_name,pickup_date,"
    "pickup_time,customer_name,special_instruction,source,final_source,customer_type,is_order_placed"
)
SCOPE = StoreScope(etl=["A526", "A668", "A817"], report=["A668", "A817"])


def download(*, failed_store: str | None = None, login_failed: bool = False) -> DownloadResult:
    result = DownloadResult(
        DAY, login_failed=login_failed, login_reason="bad password" if login_failed else None
    )
    for code in SCOPE.etl:
        if login_failed:
            result.stores[code] = StoreResult(code, "failed", "not attempted: portal login failed")
        elif code == failed_store:
            export = ExportResult(code, "missed_leads", "skipped", reason="HTTP 500")
            result.stores[code] = StoreResult(
                code, "failed", "missed_leads: HTTP 500", None, {"missed_leads": export}
            )
        else:
            export = ExportResult(code, "missed_leads", "ok", Path(f"{code}.csv"), rows=2)
            result.stores[code] = StoreResult(code, "ok", None, None, {"missed_leads": export})
    return result


async def failed_bucket(tmp_path: Path, logger: EventLogger) -> BucketOutcome:
    """missed_leads merged but not ingested: no database to ingest into."""
    path = tmp_path / MISSED_LEADS.file_name("A668")
    lead = (
        "1,9700000001,P0001,18-11-2025,10:00:00,A668,Store A668,2025-11-19,10:00 AM - 12:00 PM,"
        "Kavya Rao,,WhatsApp,WhatsApp,New,1"
    )
    path.write_text(f"{VENDOR_HEADER}\n{lead}\n", encoding="utf-8")
    return await process_bucket(
        None,
        MISSED_LEADS,
        {"A668": path},
        work_dir=tmp_path,
        report_date=DAY,
        run_id="run-1",
        batch_size=10,
        logger=logger,
        dry_run=False,
    )


def record_with(
    result: DownloadResult,
    buckets: dict[str, BucketOutcome] | None = None,
    reports: list[ReportOutcome] | None = None,
) -> RunRecord:
    record = daily_record("run-1", "dev", DAY, SCOPE, dry_run=False)
    record.started_at = STARTED
    record.set_phase("download", DownloadPhase(result, SCOPE.etl))
    for phase in BUCKET_PHASES:
        if buckets is not None and (bucket_phase := BucketPhase(phase, buckets)).reached:
            record.set_phase(phase, bucket_phase)
    if reports is not None:
        record.set_phase("report", ReportPhase(ReportsResult(tuple(reports))))
    return record
