"""The database failing under a real daily run: its connection terminated in the middle of a bucket's
transaction (`pg_terminate_backend` on the shared server, in the run's own test database), and the whole
server stopped and started again mid-run (a private cluster)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.demo import seed_demo
from tests.conftest import free_port, migrated_engine
from tests.flows.test_daily_flow import messages, run_daily, table_rows
from tests.ingest.pg_faults import row_locked, terminate_lock_waiter
from tests.reliability.conftest import BUCKETS, DAY

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
        # (the attempt may still be closing its hidden rejects file)
        kept = sorted(p.name for p in (env / "downloads").glob("*missed*") if not p.name.startswith("."))
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
    assert (
        await asyncio.to_thread(lambda: list((env / "downloads").iterdir())) == []
    )  # no temporary file left
    assert len(messages(smtp_server)) == 3


# PostgreSQL stopped and started again in the middle of a run: on a private cluster of this test's own,
# never the shared server other tests use.
PG_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


def _as_postgres(*command: str) -> list[str]:
    # The server refuses to run as root; as another user it runs as that user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@dataclass
class PrivateCluster:
    pg_ctl: str
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/crm"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [self.pg_ctl, "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", options]
        done = subprocess.run(
            _as_postgres(*command, "-w", *args), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    async def actl(self, *args: str) -> None:
        await asyncio.to_thread(self.ctl, *args)


async def until(condition: Callable[[], bool], limit_s: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the run never got there")
        await asyncio.sleep(0.05)


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    """A throwaway PostgreSQL cluster on a free port, with a migrated database `crm`."""
    if not PG_BINARIES:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed under /usr/lib/postgresql")
    pg_ctl = str(PG_BINARIES[-1])
    # Not under tmp_path: the server's user must be able to reach its data directory.
    data = Path(tempfile.mkdtemp(prefix="crm-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        initdb = str(Path(pg_ctl).with_name("initdb"))
        done = subprocess.run(
            _as_postgres(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        cluster = PrivateCluster(pg_ctl, data, free_port())
        cluster.ctl("start")
        try:
            asyncio.run(_create_database(cluster))
            yield cluster
        finally:
            subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop"), check=False)
    finally:
        shutil.rmtree(data, ignore_errors=True)


async def _create_database(cluster: PrivateCluster) -> None:
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    try:
        await admin.execute("CREATE DATABASE crm")
    finally:
        await admin.close()
    engine = await migrated_engine(cluster.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await seed_demo(session)
    finally:
        await engine.dispose()


async def test_postgres_stopped_for_a_moment_during_a_run_the_run_waits_and_completes(
    private_pg: PrivateCluster, env: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("DATABASE_URL", private_pg.url)
    downloads = env / "downloads"

    def exports() -> int:
        return len(list(downloads.glob("A*.csv"))) if downloads.exists() else 0

    async def outage() -> None:
        # Down while the browser downloads (every pooled connection is closed), still down when the run
        # first needs the database after the download, up again a moment later.
        await until(lambda: exports() > 0)
        await private_pg.actl("-m", "fast", "stop")
        await until(lambda: exports() == 9)
        await asyncio.sleep(2)
        await private_pg.actl("start")

    stopping = asyncio.ensure_future(outage())
    state, result = await run_daily()
    await stopping

    assert state.is_completed() and result["status"] == "ok", result["summary_text"]
    metrics = result["metrics"]
    assert sorted(metrics["download"]["figures_stored"]) == ["A526", "A668", "A817"]
    engine = make_engine(private_pg.url)
    try:
        for bucket in BUCKETS:
            counts = metrics["buckets"][bucket]["counts"]
            assert counts["inserted"] == counts["merged_rows"] == len(await table_rows(engine, bucket)) > 0
        async with engine.connect() as conn:
            figures = await conn.execute(text("SELECT count(*) FROM store_dashboard_summary"))
            assert figures.scalar_one() == 3
    finally:
        await engine.dispose()
    assert metrics["pdf"]["generated"] == 2 and len(messages(smtp_server)) == 3
    # The outage was met: the step that needed the database then was tried again.
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    retried = sorted(r.name for r in runs if r.run_count > 1)
    assert [n.rsplit("-", 1)[0] for n in retried] == ["store-dashboard-figures"], retried


async def test_postgres_stopped_while_reports_are_rendered_each_store_is_rendered_and_recorded_once(
    private_pg: PrivateCluster, env: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("DATABASE_URL", private_pg.url)
    reports = env / "reports"

    async def outage() -> None:
        # Down as soon as the first store's PDF is on disk: its `documents` row or the next store's data
        # needs the database then.
        await until(lambda: reports.exists() and any(reports.rglob("*.pdf")))
        await private_pg.actl("-m", "fast", "stop")
        await asyncio.sleep(2)
        await private_pg.actl("start")

    stopping = asyncio.ensure_future(outage())
    state, result = await run_daily()
    await stopping

    assert state.is_completed() and result["status"] == "ok", result["summary_text"]
    assert result["metrics"]["pdf"]["generated"] == 2
    engine = make_engine(private_pg.url)
    try:
        async with engine.connect() as conn:
            documents = await conn.execute(
                text("SELECT reference_id_3, status, file_path FROM documents ORDER BY reference_id_3")
            )
            rows = documents.all()
    finally:
        await engine.dispose()
    # One row per store, each pointing at its PDF; no PDF on disk without its row.
    assert [(store, status) for store, status, _path in rows] == [("A668", "ok"), ("A817", "ok")]
    on_disk = sorted(await asyncio.to_thread(lambda: [str(p) for p in reports.rglob("*.pdf")]))
    assert on_disk == sorted(path for _store, _status, path in rows)
    attachments = sorted(p.get_filename() for m in messages(smtp_server) for p in m.iter_attachments())
    assert attachments == ["A668_2025-11-19.pdf", "A817_2025-11-19.pdf"]


async def test_a_database_that_stays_down_fails_each_store_report_after_one_round_of_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_core import settings as settings_module
    from crm_core.json_logger import EventLogger
    from crm_core.reports import documents
    from crm_core.reports.daily.render import render_store_reports

    monkeypatch.setattr(documents, "TRANSIENT_PAUSES_S", (0.0, 0.0))  # the waits themselves prove nothing
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm"  # nobody listens there
    settings = settings_module.Settings(_env_file=None, crm_home=tmp_path, database_url=url)  # type: ignore[call-arg]
    logger = EventLogger("run-down", "dashboard_daily", stream=None, events=[])
    engine = make_engine(url)
    try:
        result = await render_store_reports(engine, settings, ["A668", "A817"], DAY, "run-down", logger)
    finally:
        await engine.dispose()
    assert [(o.store_code, o.status) for o in result.outcomes] == [("A668", "error"), ("A817", "error")]
    assert all(o.message.startswith("report data could not be loaded: ") for o in result.outcomes)
    retried = [e["store_code"] for e in logger.events if "store report retried" in e["message"]]
    assert retried == ["A668", "A668"]  # the pauses are spent once, not once per store
