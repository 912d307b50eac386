"""The database failing under a real daily run: its connection terminated in the middle of a bucket's
transaction (`pg_terminate_backend` on the shared server, in the run's own test database)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.flows.test_daily_flow import messages, run_daily, table_rows
from tests.ingest.pg_faults import row_locked, terminate_lock_waiter
from tests.reliability.conftest import BUCKETS, stored_rows

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_harness"),
]

RETRY_NOTE = "files kept for a retry"


async def test_connection_terminated_mid_bucket_is_rolled_back_and_retried_within_the_run(
    db: AsyncEngine,
    env: Path,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: tuple[int, Any],
) -> None:
    log = tmp_path / "events.ndjson"
    monkeypatch.setenv("JSON_LOG_FILE", str(log))
    # The missed-leads COPY waits for this lock inside the bucket's transaction and is terminated there.
    async with row_locked(pg_url, "LOCK TABLE missed_leads IN SHARE MODE") as admin:
        running = asyncio.ensure_future(run_daily())
        await terminate_lock_waiter(admin)
        between = await admin.fetchval("SELECT count(*) FROM missed_leads")
        kept = sorted(p.name for p in (env / "downloads").glob("*missed*"))
    state, result = await running

    # Nothing of the terminated attempt was stored, and its files were kept for the retry.
    assert between == 0
    assert kept == [
        "A526-missed-leads.csv",
        "A668-missed-leads.csv",
        "A817-missed-leads.csv",
        "merged_missed_leads_20251119.csv",
    ]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    dropped = [e for e in events if RETRY_NOTE in e["message"]]
    assert len(dropped) == 1 and dropped[0]["bucket"] == "missed_leads", dropped
    assert dropped[0]["message"].startswith("missed_leads: database error, bucket rolled back")

    # The retry stored the bucket whole, each key once; the run is ok and everything else delivered.
    assert state.is_completed() and result["status"] == "ok", result["summary_text"]
    for bucket in BUCKETS:
        counts = result["metrics"]["buckets"][bucket]["counts"]
        assert counts["inserted"] == counts["merged_rows"] == len(await table_rows(db, bucket)) > 0
    assert not list((env / "downloads").rglob("*.csv"))
    assert len(messages(smtp_server)) == 3
    before = await stored_rows(db)

    # A rerun of the day changes nothing.
    state, again = await run_daily()
    assert again["status"] == "ok" and await stored_rows(db) == before
