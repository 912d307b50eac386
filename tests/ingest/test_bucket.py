"""process_bucket (merge → load → audit/cleanup) on real files and databases."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine
from crm_core.errors import TransientError
from crm_core.exports import MISSED_LEADS, REPEAT_CUSTOMERS, ExportSpec
from crm_core.ingest.audit import DRY_RUN_REASON, BucketOutcome
from crm_core.ingest.bucket import process_bucket
from crm_core.json_logger import EventLogger, normalise_status
from crm_core.runs.phases import BUCKET_PHASES
from crm_core.status import Status, worst
from tests.ingest.pg_faults import row_locked, terminate_lock_waiter

DAY = date(2025, 11, 19)
VENDOR_HEADER = (
    "id,mobile_number,pickup_no,pickup_created_date,pickup_created_time,store_code,store_name,pickup_date,"
    "pickup_time,customer_name,special_instruction,source,final_source,customer_type,is_order_placed"
)


def vendor_file(folder: Path, store: str, rows: list[str]) -> Path:
    """A per-store missed-leads export as the portal sends it (CRLF, vendor header)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MISSED_LEADS.file_name(store)
    path.write_bytes(("\r\n".join([VENDOR_HEADER, *rows]) + "\r\n").encode("utf-8"))
    return path


def lead_line(n: int, store: str, mobile: str | None = None, row_id: str | None = None) -> str:
    mobile = mobile if mobile is not None else f"97{n:08d}"
    row_id = row_id if row_id is not None else str(n)
    return (
        f"{row_id},{mobile},P{n:04d},18-11-2025,10:00:00,{store},Store {store},2025-11-19,"
        f"10:00 AM - 12:00 PM,Kavya Rao,,WhatsApp,WhatsApp,New,{n % 2}"
    )


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def logger() -> EventLogger:
    return EventLogger(run_id="run-a", pipeline="test", stream=None, events=[])


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def run(
    engine: AsyncEngine | None,
    files: dict[str, Path],
    work: Path,
    *,
    dry_run: bool = False,
    log: EventLogger | None = None,
    spec: ExportSpec = MISSED_LEADS,
) -> BucketOutcome:
    return await process_bucket(
        engine,
        spec,
        files,
        work_dir=work,
        report_date=DAY,
        run_id="run-a",
        batch_size=2,
        logger=log or logger(),
        dry_run=dry_run,
    )


async def test_ok_bucket_is_ingested_and_its_files_deleted(engine: AsyncEngine, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {
        "A668": vendor_file(work, "A668", [lead_line(n, "A668") for n in range(1, 4)]),
        "A817": vendor_file(work, "A817", [lead_line(n, "A817") for n in range(1, 3)]),
    }
    log = logger()
    outcome = await run(engine, files, work, log=log)
    assert outcome.verdict == "ok", outcome.reason
    assert outcome.counts() == {
        "download_total": 5,
        "merged_rows": 5,
        "rejected_rows": 0,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "ingested_rows": 5,
    }
    assert listing(work) == [] and len(outcome.files_deleted) == 3 and outcome.files_kept == []
    assert await count(engine, "missed_leads") == 5
    phases = {(e["phase"], e["status"]) for e in log.events}
    assert {("merge", "ok"), ("ingest", "ok"), ("audit", "ok"), ("cleanup", "ok")} <= phases
    metrics = outcome.as_metrics()
    assert metrics["stores"] == {"A668": 3, "A817": 2} and metrics["verdict"] == "ok"
    assert metrics["counts"]["ingested_rows"] == 5 and metrics["files_deleted"] == outcome.files_deleted
    json.dumps(metrics)  # goes into metrics_json as is


async def test_rejected_rows_make_a_warning_and_keep_every_file(engine: AsyncEngine, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {
        "A668": vendor_file(
            work, "A668", [lead_line(1, "A668"), lead_line(2, "A668", row_id="x"), lead_line(3, "A668")]
        )
    }
    outcome = await run(engine, files, work)
    assert outcome.verdict == "warn"
    assert "1 row(s) rejected" in outcome.reason and "ingested 2 of 3" in outcome.reason
    assert outcome.counts()["rejected_rows"] == 1 and outcome.counts()["ingested_rows"] == 2
    assert listing(work) == sorted(
        ["A668-missed-leads.csv", "merged_missed_leads_20251119.csv", "rejects_missed_leads_20251119.csv"]
    )
    assert sorted(Path(p).name for p in outcome.files_kept) == listing(work)
    assert outcome.files_deleted == []
    rejects = (work / "rejects_missed_leads_20251119.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[1].startswith("A668-missed-leads.csv,3,pickup_row_id,not a whole number")


async def test_database_failure_is_an_error_verdict_with_files_kept(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE missed_leads"))
    work = tmp_path / "downloads"
    files = {"A668": vendor_file(work, "A668", [lead_line(1, "A668")])}
    log = logger()
    outcome = await run(engine, files, work, log=log)
    assert outcome.verdict == "error" and outcome.reason.startswith("missed_leads: database error")
    assert listing(work) == ["A668-missed-leads.csv", "merged_missed_leads_20251119.csv"]
    assert outcome.ingest is None and outcome.counts()["merged_rows"] == 1
    assert any(e["phase"] == "ingest" and e["status"] == "warn" for e in log.events or [])
    # One failed bucket makes the run a warning, not an error: the other buckets went through.
    assert outcome.phase_status("ingest") is Status.WARNING
    assert outcome.phase_status("merge") is Status.OK
    assert outcome.phase_issues("ingest") == [f"bucket missed_leads: {outcome.reason}"]
    assert "9700000001" not in json.dumps(log.events)


async def test_dry_run_writes_and_deletes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {"A668": vendor_file(work, "A668", [lead_line(1, "A668"), lead_line(2, "A668", mobile="")])}
    before = listing(work)
    outcome = await run(engine, files, work, dry_run=True)
    assert outcome.verdict == "warn" and outcome.reason == DRY_RUN_REASON
    assert outcome.ingest is not None and outcome.ingest.rejected_rows == 1
    assert outcome.counts()["ingested_rows"] == 0 and outcome.files_deleted == []
    assert listing(work) == sorted([*before, "merged_missed_leads_20251119.csv"])  # merge still happens
    assert await count(engine, "missed_leads") == 0


async def test_no_input_file_at_all_is_a_warning(tmp_path: Path) -> None:
    outcome = await run(None, {"A668": tmp_path / "missing.csv"}, tmp_path, dry_run=False)
    assert outcome.verdict == "warn" and "no input file" in outcome.reason


async def test_missing_database_is_an_error_not_an_exception(tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {"A668": vendor_file(work, "A668", [lead_line(1, "A668")])}
    outcome = await run(None, files, work)
    assert outcome.verdict == "error" and "no database" in outcome.reason
    assert "A668-missed-leads.csv" in listing(work)


async def test_repeat_customers_bucket_end_to_end(engine: AsyncEngine, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    work.mkdir()
    path = work / REPEAT_CUSTOMERS.file_name("A526")
    path.write_text(
        "\ufeffStore Code,Mobile No.,Status\n"
        "A526,9812345678,Yes\na526 ,9812345678,Yes\nA526,9800000002,Yes\n",
        encoding="utf-8",
    )
    outcome = await run(engine, {"A526": path}, work, spec=REPEAT_CUSTOMERS)
    assert outcome.verdict == "ok", outcome.reason
    assert outcome.counts()["merged_rows"] == 2 and await count(engine, "repeat_customers") == 2


@pytest.mark.postgres
async def test_connection_dropped_mid_bucket_raises_transient_with_nothing_stored(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    try:
        work = tmp_path / "downloads"
        stored = await run(
            engine, {"A668": vendor_file(work, "A668", [lead_line(n, "A668") for n in (1, 2)])}, work
        )
        assert stored.verdict == "ok"
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT * FROM missed_leads ORDER BY pickup_no"))).all()
        # P0001 and P0002 come back changed (an unchanged row is not written, so it would take no lock).
        changed = [lead_line(n, "A668", row_id=str(100 + n)) for n in (1, 2)]
        files = {"A668": vendor_file(work, "A668", changed + [lead_line(n, "A668") for n in range(3, 9)])}
        log = logger()
        # The 6 new rows are COPYed in, then the update of P0001 waits for this lock: dropped there.
        lock = "SELECT 1 FROM missed_leads WHERE pickup_no = 'P0001' FOR UPDATE"
        async with row_locked(pg_url, lock) as admin:
            attempt = asyncio.ensure_future(run(engine, files, work, log=log))
            await terminate_lock_waiter(admin)
            with pytest.raises(TransientError) as info:
                await attempt
        assert str(info.value).startswith("missed_leads: database error, bucket rolled back")
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT * FROM missed_leads ORDER BY pickup_no"))).all()
        assert after == before
        assert listing(work) == ["A668-missed-leads.csv", "merged_missed_leads_20251119.csv"]
        assert [e["status"] for e in log.events if e["phase"] == "ingest"] == ["info"]

        again = await run(engine, files, work)
        assert again.verdict == "ok" and (again.counts()["inserted"], again.counts()["updated"]) == (6, 2)
        assert await count(engine, "missed_leads") == 8 and listing(work) == []
    finally:
        await engine.dispose()


def statuses_from_events(log: EventLogger) -> dict[str, Status]:
    """Per bucket phase, the worst status its events were logged with (what the run showed before)."""
    seen: dict[str, Status] = {}
    for event in log.events or []:
        if event["phase"] in BUCKET_PHASES:
            status = Status(normalise_status(event["status"]))
            seen[event["phase"]] = worst([seen.get(event["phase"], Status.OK), status])
    return seen


async def test_phase_statuses_are_what_the_events_say(engine: AsyncEngine, tmp_path: Path) -> None:
    """Every bucket phase's status, decided from the outcome, is the one its logged events report."""
    rows = [lead_line(1, "A668"), lead_line(2, "A668", row_id="x"), lead_line(3, "A668", mobile="")]
    scenarios: dict[str, tuple[AsyncEngine | None, bool, list[str] | None]] = {
        "ok": (engine, False, [lead_line(1, "A668")]),
        "rejected": (engine, False, rows),
        "dry run": (engine, True, rows),
        "no database": (None, False, [lead_line(1, "A668")]),
        "no input": (engine, False, None),
    }
    for name, (db, dry_run, lines) in scenarios.items():
        work = tmp_path / name.replace(" ", "_")
        work.mkdir()
        files = {"A668": vendor_file(work, "A668", lines) if lines else work / "missing.csv"}
        log = logger()
        outcome = await run(db, files, work, dry_run=dry_run, log=log)
        from_outcome = {p: s for p in BUCKET_PHASES if (s := outcome.phase_status(p)) is not None}
        assert from_outcome == statuses_from_events(log), name
        assert bool(any(outcome.phase_issues(p) for p in BUCKET_PHASES)) == (name != "ok"), name
