"""A deployment's daily run killed with SIGKILL in the middle of ingest: the process worker reports the run
Crashed, the `pipeline-run-failed` automation of prefect.yaml runs the alert flow and its email arrives,
and nothing of the interrupted bucket is stored. A real Prefect server, `prefect deploy`, process workers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from crm_core.portal.sandbox.server import SandboxServer
from tests.e2e.prefect_stack import PrefectStack, prefect_stack
from tests.e2e.test_alerts import body_of, deploy_with_grace, wait_for_alert_run, wait_for_messages
from tests.reliability.crash.daily_process import (
    DAY,
    GatedHandler,
    admin_dsn,
    daily_settings,
    hold_table_lock,
    release,
    seeded_database,
    smtp,
    wait_for_lock_waiters,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    with prefect_stack(tmp_path_factory.mktemp("prefect-crash")) as running:
        yield running


def flow_run_processes(flow_run_id: str) -> list[int]:
    """Every process of a flow run: the one the worker started and its children (Chromium among them)
    inherit PREFECT__FLOW_RUN_ID."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


async def test_killed_deployment_run_is_crashed_and_alerted(
    stack: PrefectStack, pg_template: str, sim: SandboxServer, tmp_path: Path
) -> None:
    deploy_with_grace(stack, tmp_path, grace_s=3 * 3600)  # no missed-run alert while this test runs
    handler = GatedHandler()
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        settings = daily_settings(tmp_path / "home", url, sim, port) | {"ALERT_EMAIL_TO": "ops@example.com"}
        stack.start_worker("crm-process", settings, queue="alerts")
        stack.start_worker("crm-process", settings, queue="default", keep_others=True)

        lock = await hold_table_lock(url, "missed_leads")
        try:
            run_id = stack.run_deployment("dashboard-daily/daily", {"report_date": DAY.isoformat()})
            (blocked_on,) = await wait_for_lock_waiters(url, [])
            assert "missed_leads" in blocked_on, blocked_on
            pids = flow_run_processes(run_id)
            assert pids, "the flow run's process was not found"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        finally:
            await release(lock)

        run: dict[str, Any] = await asyncio.to_thread(stack.wait_for, run_id, 120)
        assert run["state_type"] == "CRASHED", run
        alert = await asyncio.to_thread(wait_for_alert_run, stack, run_id, "failed")
        worker_log = (stack.home / "worker-alerts.log").read_text(errors="replace")[-3000:]
        assert alert["state_type"] == "COMPLETED", worker_log
        messages = await asyncio.to_thread(wait_for_messages, handler, 1)
        # The run's own crash hook died with it: the automation's alert is the one email.
        assert len(messages) == 1, [m["message"]["Subject"] for m in messages]
        assert messages[0]["message"]["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run Crashed"
        assert run_id in body_of(messages[0])

        conn = await asyncpg.connect(admin_dsn(url))
        try:
            assert await conn.fetchval("SELECT count(*) FROM missed_leads") == 0
        finally:
            await conn.close()
