"""The bucket task runs as a Prefect task run inside a flow, on a real database and real files: transient
database failures are retried (safely: the failed attempt stored nothing and kept the files), permanent
ones are the bucket's `error` verdict at once, and exhausted retries become that verdict in the flow."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.cache_policies import NONE
from sqlalchemy import text

from crm_core.db.engine import make_engine
from crm_core.errors import is_transient
from crm_core.exports import REPEAT_CUSTOMERS
from crm_core.ingest import BucketOutcome, TransientIngestError, failed_bucket
from crm_core.json_logger import EventLogger
from crm_core.runs.phases import BUCKET_PHASES, BucketPhase
from crm_core.status import Status, worst
from tasks.ingest import process_bucket_task
from tests.conftest import free_port
from tests.ingest.pg_faults import row_locked, terminate_lock_waiter

pytestmark = pytest.mark.usefixtures("prefect_harness")
DAY = date(2025, 11, 19)
RETRY_NOTE = "files kept for a retry"


def export(folder: Path, store: str, mobiles: list[str], status: str = "Yes") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPEAT_CUSTOMERS.file_name(store)
    path.write_text("Store Code,Mobile No.,Status\n" + "".join(f"{store},{m},{status}\n" for m in mobiles))
    return path


def mobiles(first: int, last: int) -> list[str]:
    return [f"98000000{n:02d}" for n in range(first, last + 1)]


@flow
async def bucket_flow(
    db_url: str, files: dict[str, Path], work: Path, dry_run: bool = False, logger: EventLogger | None = None
) -> tuple[BucketOutcome, int]:
    """The daily flow's bucket step (retries without delay): the outcome and how often the task ran.
    The logger must be new: its merge events count the attempts."""
    engine = make_engine(db_url)
    logger = logger or EventLogger("run-t", "test", stream=None, events=[])
    try:
        state = await process_bucket_task.with_options(retry_delay_seconds=0)(  # type: ignore[misc]
            engine,
            REPEAT_CUSTOMERS,
            files,
            work_dir=work,
            report_date=DAY,
            run_id="run-t",
            batch_size=2,
            logger=logger,
            dry_run=dry_run,
            return_state=True,
        )
        outcome = await state.aresult(raise_on_failure=False)
        if not isinstance(outcome, BucketOutcome):
            outcome = failed_bucket(
                REPEAT_CUSTOMERS, files, outcome, work_dir=work, report_date=DAY, logger=logger
            )
        # Every attempt starts with the merge, which logs one event.
        return outcome, sum(e["phase"] == "merge" for e in logger.events)
    finally:
        await engine.dispose()


async def stored(db_url: str) -> list[Any]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT store_code, mobile_no, run_id, created_at, updated_at FROM repeat_customers")
            )
            return sorted(tuple(r) for r in rows)
    finally:
        await engine.dispose()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_bucket_task_dry_run_then_real(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {"A526": export(work, "A526", ["9800000001", ""])}
    dry, runs = await bucket_flow(db_url, files, work, True)
    assert dry.verdict == "warn" and dry.counts()["rejected_rows"] == 1 and files["A526"].exists()
    assert runs == 1 and await stored(db_url) == []
    real, _ = await bucket_flow(db_url, files, work, False)
    assert real.verdict == "warn" and real.counts()["ingested_rows"] == 1 and files["A526"].exists()


@pytest.mark.postgres
async def test_connection_dropped_mid_bucket_is_retried_and_stores_every_row_once(
    pg_url: str, tmp_path: Path
) -> None:
    work = tmp_path / "downloads"
    # Stored with another status, so the second export changes them (an unchanged row is not written).
    first, _ = await bucket_flow(pg_url, {"A526": export(work, "A526", mobiles(1, 3), status="No")}, work)
    assert first.verdict == "ok"
    before = await stored(pg_url)
    files = {"A526": export(work, "A526", mobiles(1, 12))}
    logger = EventLogger("run-t", "test", stream=None, events=[])
    # The ingest stores the 9 new rows, then waits for the lock on a stored one to update it: the
    # connection is dropped while the bucket is inside its transaction with work done.
    lock = "SELECT 1 FROM repeat_customers WHERE mobile_no = '9800000001' FOR UPDATE"
    async with row_locked(pg_url, lock) as admin:
        running = asyncio.ensure_future(bucket_flow(pg_url, files, work, logger=logger))
        await terminate_lock_waiter(admin)
        # The retry cannot commit while the lock is held: this is what the failed attempt left.
        between = await admin.fetch("SELECT store_code, mobile_no, run_id FROM repeat_customers")
        kept_between = listing(work)
    outcome, runs = await running

    failures = [e for e in logger.events if RETRY_NOTE in e["message"]]
    assert len(failures) == 1 and failures[0]["status"] == "info"
    assert failures[0]["message"].startswith("repeat_customers: database error, bucket rolled back")
    assert sorted(tuple(r) for r in between) == [r[:3] for r in before]  # nothing partial stored
    # (the retry, already running, may have its hidden rejects file open)
    assert [n for n in kept_between if not n.startswith(".")] == [
        "A526-repeat-customers.csv",
        "merged_repeat_customers_20251119.csv",
    ]
    assert runs == 2
    assert outcome.verdict == "ok", outcome.reason
    assert (outcome.counts()["inserted"], outcome.counts()["updated"]) == (9, 3)
    after = await stored(pg_url)
    assert [r[:3] for r in after] == [("A526", m, "run-t") for m in mobiles(1, 12)]  # each key once
    assert listing(work) == []
    assert bucket_status(outcome) is Status.OK  # a retry that worked is no warning


async def test_permanent_database_error_is_not_retried(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE repeat_customers"))
    finally:
        await engine.dispose()
    work = tmp_path / "downloads"
    files = {"A526": export(work, "A526", mobiles(1, 3))}
    logger = EventLogger("run-t", "test", stream=None, events=[])
    outcome, runs = await bucket_flow(db_url, files, work, logger=logger)
    assert runs == 1
    assert outcome.verdict == "error" and "database error" in outcome.reason
    assert not any(RETRY_NOTE in e["message"] for e in logger.events)
    assert listing(work) == ["A526-repeat-customers.csv", "merged_repeat_customers_20251119.csv"]


async def test_exhausted_retries_become_the_bucket_error_with_files_kept(tmp_path: Path) -> None:
    # Nothing listens on the port: every attempt finds the database unreachable.
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm_{uuid.uuid4().hex[:8]}"
    work = tmp_path / "downloads"
    files = {"A526": export(work, "A526", mobiles(1, 3))}
    logger = EventLogger("run-t", "test", stream=None, events=[])
    outcome, runs = await bucket_flow(unreachable, files, work, logger=logger)
    assert runs == 1 + process_bucket_task.retries == 4
    assert sum(RETRY_NOTE in e["message"] for e in logger.events) == 4
    assert outcome.verdict == "error" and outcome.reason.startswith("repeat_customers: database error")
    assert sorted(Path(p).name for p in outcome.files_kept) == listing(work)
    assert listing(work) == ["A526-repeat-customers.csv", "merged_repeat_customers_20251119.csv"]
    assert bucket_status(outcome) is Status.WARNING


def bucket_status(outcome: BucketOutcome) -> Status:
    """What the bucket makes of the run's status, over its merge, ingest, audit and cleanup phases."""
    return worst(BucketPhase(phase, {outcome.bucket: outcome}).status for phase in BUCKET_PHASES)


def test_only_connection_trouble_is_retried() -> None:
    assert is_transient(TransientIngestError("repeat_customers: database error"))
    assert process_bucket_task.retries == 3 and process_bucket_task.retry_condition_fn is not None
    assert process_bucket_task.cache_policy == NONE and process_bucket_task.persist_result is False
