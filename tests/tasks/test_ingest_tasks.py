"""The ingest tasks run as Prefect task runs inside a flow, on a real database and real files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.cache_policies import NONE
from sqlalchemy import text

from crm_core.audit import BucketOutcome
from crm_core.db.engine import make_engine
from crm_core.exports import REPEAT_CUSTOMERS
from crm_core.ingest import IngestError
from crm_core.json_logger import EventLogger
from tasks.common import is_transient
from tasks.ingest import audit_cleanup_task, ingest_task, merge_task, process_bucket_task

pytestmark = pytest.mark.usefixtures("prefect_harness")
DAY = date(2025, 11, 19)


def export(folder: Path, store: str, mobiles: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPEAT_CUSTOMERS.file_name(store)
    path.write_text("Store Code,Mobile No.,Status\n" + "".join(f"{store},{m},Yes\n" for m in mobiles))
    return path


@flow
async def steps_flow(db_url: str, files: dict[str, Path], work: Path) -> BucketOutcome:
    engine = make_engine(db_url)
    logger = EventLogger("run-t", "test", stream=None)
    try:
        merged = merge_task(REPEAT_CUSTOMERS, files, work, DAY, logger)
        assert merged.merged_path is not None
        ingested = await ingest_task(
            engine, REPEAT_CUSTOMERS, merged.merged_path, run_id="run-t", report_date=DAY, batch_size=2
        )
        return audit_cleanup_task(merged, ingested, dry_run=False, logger=logger)
    finally:
        await engine.dispose()


@flow
async def bucket_flow(db_url: str, files: dict[str, Path], work: Path, dry_run: bool) -> BucketOutcome:
    engine = make_engine(db_url)
    try:
        return await process_bucket_task(
            engine,
            REPEAT_CUSTOMERS,
            files,
            work_dir=work,
            report_date=DAY,
            run_id="run-t",
            batch_size=2,
            logger=EventLogger("run-t", "test", stream=None),
            dry_run=dry_run,
        )
    finally:
        await engine.dispose()


async def stored(db_url: str) -> list[Any]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT store_code, mobile_no, run_id FROM repeat_customers"))
            return sorted(tuple(r) for r in rows)
    finally:
        await engine.dispose()


async def test_step_tasks_merge_ingest_and_clean_up(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {
        "A526": export(work, "A526", ["9800000001", "9800000002"]),
        "A668": export(work, "A668", ["9800000001"]),
    }
    outcome = await steps_flow(db_url, files, work)
    assert outcome.verdict == "ok" and outcome.counts()["inserted"] == 3
    assert not any(work.iterdir())
    assert await stored(db_url) == [
        ("A526", "9800000001", "run-t"),
        ("A526", "9800000002", "run-t"),
        ("A668", "9800000001", "run-t"),
    ]


async def test_process_bucket_task_dry_run_then_real(db_url: str, tmp_path: Path) -> None:
    work = tmp_path / "downloads"
    files = {"A526": export(work, "A526", ["9800000001", ""])}
    dry = await bucket_flow(db_url, files, work, True)
    assert dry.verdict == "warn" and dry.counts()["rejected_rows"] == 1 and files["A526"].exists()
    assert await stored(db_url) == []
    real = await bucket_flow(db_url, files, work, False)
    assert real.verdict == "warn" and real.counts()["ingested_rows"] == 1 and files["A526"].exists()


def test_only_connection_trouble_is_retried() -> None:
    assert is_transient(IngestError("missed_leads: database error", transient=True))
    assert not is_transient(IngestError("missed_leads: database error"))
    assert ingest_task.retries == 3 and ingest_task.retry_condition_fn is not None
    for task in (merge_task, ingest_task, audit_cleanup_task, process_bucket_task):
        assert task.cache_policy == NONE and task.persist_result is False
