"""SIGKILL of a daily run (`crm run daily`, the flow in the command's process, with its Chromium) during
ingest, while a PDF is recorded and during email sending, then a rerun: the day ends exactly as one clean
run leaves it — no partial bucket, no duplicated or missing row, no PDF without its `documents` row (or
the reverse), no email twice.

Each kill lands inside its phase deterministically: the test holds a PostgreSQL table lock the phase needs
(the run blocks inside its transaction) or an SMTP server that holds a message before answering."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from crm_core.portal.sandbox.server import SandboxServer
from tests.reliability.crash.daily_process import (
    DAY,
    EXPECTED_EMAILS,
    PDFS,
    GatedHandler,
    admin_dsn,
    daily_env,
    day_contents,
    documents_match_files,
    hold_table_lock,
    kill_group,
    pdf_attachments,
    received_once,
    release,
    run_daily,
    seeded_database,
    smtp,
    start,
    wait_for_lock_waiters,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.usefixtures("prefect_harness")]


async def count(pg_url: str, sql: str) -> int:
    conn = await asyncpg.connect(admin_dsn(pg_url))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def rerun_completes_the_day(
    url: str, env: dict[str, str], home: Path, handler: GatedHandler, clean: dict[str, Any]
) -> None:
    code, output = run_daily(env, home.parent / "rerun.log")
    assert code == 0, output[-4000:]
    assert await day_contents(url) == clean
    assert await documents_match_files(url, home) == ["A668", "A817"]
    subjects = received_once(handler)
    assert len(subjects) == EXPECTED_EMAILS and pdf_attachments(handler) == PDFS, subjects


async def test_kill_during_ingest_then_rerun(
    pg_template: str, sim: SandboxServer, api_url: str, tmp_path: Path, clean_day: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    handler = GatedHandler()
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        env = daily_env(home, url, sim, port, api_url)
        # missed_leads is ingested first and commits; undelivered_all, the second bucket, is held.
        lock = await hold_table_lock(url, "undelivered_orders")
        run = start(env, "run", "daily", "--date", DAY.isoformat(), log=tmp_path / "killed.log")
        try:
            (blocked_on,) = await wait_for_lock_waiters(url, [run])
            assert "undelivered_orders" in blocked_on, blocked_on
            kill_group(run)
        finally:
            if run.poll() is None:
                kill_group(run)
            await release(lock)
        # The killed bucket's transaction is gone with its connection: not one of its rows is stored.
        assert await count(url, "SELECT count(*) FROM missed_leads") == len(clean_day["missed_leads"])
        assert await count(url, "SELECT count(*) FROM undelivered_orders") == 0
        assert await count(url, "SELECT count(*) FROM documents") == 0
        assert handler.messages == []
        # Nothing outlives a command's in-process flow run to report its death: Prefect still shows it
        # Running. Deployment runs are watched by their worker (test_crash_alert).
        assert await flow_run_state(killed_run_id(home)) == "RUNNING"

        await rerun_completes_the_day(url, env, home, handler, clean_day)


def killed_run_id(home: Path) -> str:
    """The run id (the Prefect flow-run id) of the first run in the event log."""
    first = (home / "events.ndjson").read_text().splitlines()[0]
    return str(json.loads(first)["run_id"])


async def flow_run_state(flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flow_run = await client.read_flow_run(uuid.UUID(flow_run_id))
    assert flow_run.state is not None
    return str(flow_run.state.type.value)


async def test_kill_while_a_pdf_is_recorded_then_rerun(
    pg_template: str, sim: SandboxServer, api_url: str, tmp_path: Path, clean_day: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    handler = GatedHandler()
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        env = daily_env(home, url, sim, port, api_url)
        # The first PDF is rendered; its documents row waits for the lock: the kill lands between them.
        lock = await hold_table_lock(url, "documents")
        run = start(env, "run", "daily", "--date", DAY.isoformat(), log=tmp_path / "killed.log")
        try:
            (blocked_on,) = await wait_for_lock_waiters(url, [run])
            assert "documents" in blocked_on, blocked_on
            rendered = sorted(p.name for p in (home / "reports").rglob("*.pdf"))
            # The pool draws ahead of the rows being written: A668 at least, maybe A817 too.
            assert "A668_2025-11-19.pdf" in rendered and set(rendered) <= {
                "A668_2025-11-19.pdf",
                "A817_2025-11-19.pdf",
            }, rendered
            kill_group(run)
        finally:
            if run.poll() is None:
                kill_group(run)
            await release(lock)
        assert await count(url, "SELECT count(*) FROM documents") == 0
        assert handler.messages == []

        await rerun_completes_the_day(url, env, home, handler, clean_day)


async def test_kill_during_email_sending_then_rerun(
    pg_template: str, sim: SandboxServer, api_url: str, tmp_path: Path, clean_day: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    # The first email goes out and is logged; the second is held at the end of DATA, the run killed then,
    # and the server (as one that had not yet queued it) answers 451 into the closed connection.
    handler = GatedHandler(hold=2)
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        env = daily_env(home, url, sim, port, api_url)
        run = start(env, "run", "daily", "--date", DAY.isoformat(), log=tmp_path / "killed.log")
        try:
            while not handler.holding.is_set():
                assert run.poll() is None, (tmp_path / "killed.log").read_text(errors="replace")[-4000:]
                await asyncio.sleep(0.2)
            kill_group(run)
        finally:
            if run.poll() is None:
                kill_group(run)
            handler.release(accept=False)
        assert len(handler.messages) == 1
        assert await count(url, "SELECT count(*) FROM email_sends WHERE status = 'sent'") == 1

        await rerun_completes_the_day(url, env, home, handler, clean_day)
        assert await count(url, "SELECT count(*) FROM email_sends WHERE status = 'sent'") == EXPECTED_EMAILS
