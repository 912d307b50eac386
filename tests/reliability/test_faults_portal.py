"""Every fault mode of the portal simulator during a real daily run (Chromium, PostgreSQL, aiosmtpd,
Prefect): the run's status, the failing store and export named in its summary, everything else
delivered, nothing of a failed export stored, and a rerun completing the day.

The download phase's handling of each fault is proved in tests/portal; here the whole run is."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import Document
from crm_core.portal.sandbox.server import SandboxServer
from tests.flows.test_daily_flow import messages, run_daily
from tests.reliability.conftest import BUCKETS, issues, rows_per_store, stored_rows

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_harness"),
]

STORES = {"A526", "A668", "A817"}
# (store, bucket): fault, and the words the run summary names it with ("" when the fault is weathered).
EXPORT_FAULTS = {
    ("A668", "missed_leads"): ("status@A668/missed_leads=429#2", ""),  # Retry-After: 1, twice
    ("A668", "undelivered_all"): ("expire@A668/undelivered_all=all#1", ""),  # every session dropped
    ("A668", "repeat_customers"): ("status@A668/repeat_customers=503", "HTTP 503"),
    ("A817", "missed_leads"): ("truncated@A817/missed_leads", "truncated"),
    ("A817", "undelivered_all"): ("status@A817/undelivered_all=429", "still rate limited"),
    ("A526", "undelivered_all"): ("logged_out@A526/undelivered_all", "refresh failed"),  # HTML notice
    ("A526", "repeat_customers"): ("slow@A526/repeat_customers=7", "request failed"),  # past the timeout
}


def run_summaries(smtp: tuple[int, Any]) -> list[EmailMessage]:
    """The run-summary emails (the store reports carry their PDF), in the order they were sent."""
    return [m for m in messages(smtp) if not any(True for _ in m.iter_attachments())]


@pytest.fixture
def short_timeout(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Long enough for every page the simulator serves at once, shorter than the slow fault.
    monkeypatch.setenv("PORTAL_NAV_TIMEOUT_MS", "5000")


async def test_export_faults_are_named_the_rest_stored_and_a_rerun_completes_the_day(
    db: AsyncEngine, env: Path, sim: SandboxServer, smtp_server: tuple[int, Any], short_timeout: None
) -> None:
    for spec, _named in EXPORT_FAULTS.values():
        sim.state.faults.add(spec)
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "warning", result["summary_text"]
    metrics = result["metrics"]
    failing = {key: named for key, (_spec, named) in EXPORT_FAULTS.items() if named}
    for (store, bucket), named in failing.items():
        line = next((i for i in issues(result) if store in i and bucket in i), None)
        assert line is not None and named in line, (store, bucket, issues(result))
        assert line in result["summary_text"]
    for bucket in BUCKETS:
        expected = STORES - {store for store, b in failing if b == bucket}
        info = metrics["buckets"][bucket]
        # The stores that delivered are merged, stored and audited; a failed export stores nothing.
        assert info["verdict"] == "ok" and set(info["stores"]) == expected, (bucket, info)
        stored = await rows_per_store(db, bucket)
        assert set(stored) == expected, (bucket, stored)
        assert sum(stored.values()) == info["counts"]["merged_rows"]
    # The figures and the report stores' PDFs and emails are delivered all the same.
    assert sorted(metrics["download"]["figures_stored"]) == sorted(STORES)
    assert metrics["pdf"]["generated"] == 2 and len(messages(smtp_server)) == 3
    assert "warning" in run_summaries(smtp_server)[0]["Subject"].lower()
    first_rows = {bucket: await rows_per_store(db, bucket) for bucket in BUCKETS}

    # The portal is well again: the rerun stores every store's exports and the day is complete.
    sim.state.faults.clear()
    state, again = await run_daily()
    assert state.is_completed() and again["status"] == "ok", again["summary_text"]
    for bucket in BUCKETS:
        stored = await rows_per_store(db, bucket)
        assert (
            set(stored) == STORES
            and sum(stored.values()) == again["metrics"]["buckets"][bucket]["counts"]["merged_rows"]
        )
        for store, rows in first_rows[bucket].items():
            assert stored[store] == rows  # the rows stored the first time are updated, not doubled
    assert not list((env / "downloads").rglob("*.csv"))
    # The store reports went out once; the run summary again, its status having changed to ok.
    summaries = run_summaries(smtp_server)
    assert len(messages(smtp_server)) == 4 and len(summaries) == 2 and "ok" in summaries[1]["Subject"].lower()
    async with session_factory(db)() as session:
        documents = (await session.execute(select(Document))).scalars().all()
        assert sorted(d.reference_id_3 for d in documents) == ["A668", "A668", "A817", "A817"]


async def test_login_loop_is_an_error_run_without_stale_reports_and_a_rerun_completes_the_day(
    db: AsyncEngine, env: Path, sim: SandboxServer, smtp_server: tuple[int, Any]
) -> None:
    # Every page of the tracker answers the "you need to be logged in" notice, however often we log in.
    for endpoint in ("dashboard", *BUCKETS):
        sim.state.faults.add(f"logged_out/{endpoint}")
    state, result = await run_daily()
    assert state.is_failed() and result["status"] == "error", result["summary_text"]
    # Logged in, yet the tracker says "not logged in": the login is what failed, with a screenshot.
    first = issues(result)[0]
    assert first.startswith("portal login failed: TMS refused the tracker hand-off (not logged in)"), first
    assert Path(first.split("(screenshot: ")[1].rstrip(")")) in set((env / "artifacts").rglob("*.png"))
    # Nothing stored, no PDF of stale figures; the error summary alone is emailed.
    assert await stored_rows(db) == dict.fromkeys(BUCKETS, 0)
    assert result["metrics"]["pdf"]["skipped"] == "portal login failed"
    assert [m["Subject"] for m in messages(smtp_server)] == [run_summaries(smtp_server)[0]["Subject"]]
    assert "error" in run_summaries(smtp_server)[0]["Subject"].lower()

    sim.state.faults.clear()
    state, again = await run_daily()
    assert state.is_completed() and again["status"] == "ok", again["summary_text"]
    for bucket in BUCKETS:
        assert set(await rows_per_store(db, bucket)) == STORES
    assert again["metrics"]["pdf"]["generated"] == 2 and len(messages(smtp_server)) == 4
