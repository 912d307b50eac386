"""Two runs of the same work at the same moment (two daily runs of a date; `crm ingest` of one bucket
from two processes): the tables end as one run leaves them and no email goes out twice.

Both daily runs are `crm run daily` processes on one machine (one CRM_HOME, as a CLI run and the
deployment's worker share it in the container): the deployment path runs the same flow in a process the
worker starts, so two commands are the same race without a Prefect server and worker to start. Both are
held at the first bucket's ingest (a table lock the test holds) until both have started, then go on."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crm_core.portal.sandbox.server import SandboxServer
from tests.cli.test_ingest import export
from tests.reliability.crash.daily_process import (
    DAY,
    EXPECTED_EMAILS,
    OWN_VARIABLES,
    PDFS,
    GatedHandler,
    bucket_rows,
    daily_env,
    day_contents,
    documents_match_files,
    hold_table_lock,
    pdf_attachments,
    received_once,
    release,
    seeded_database,
    smtp,
    start,
    wait_for_lock_waiters,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.usefixtures("prefect_harness")]


async def test_two_daily_runs_of_one_date_at_once(
    pg_template: str, sim: SandboxServer, api_url: str, tmp_path: Path, clean_day: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    handler = GatedHandler()
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        env = daily_env(home, url, sim, port, api_url)
        command = ("run", "daily", "--date", DAY.isoformat())
        # Both runs reach the first bucket's ingest and wait on one lock, then go on together.
        lock = await hold_table_lock(url, "missed_leads")
        try:
            runs = [start(env, *command, log=tmp_path / f"run{n}.log") for n in (1, 2)]
            await wait_for_lock_waiters(url, runs, waiters=2)
        finally:
            await release(lock)
        codes = [await asyncio.to_thread(run.wait, 600) for run in runs]
        logs = [(tmp_path / f"run{n}.log").read_text(errors="replace") for n in (1, 2)]
        assert codes == [0, 0], "\n=====\n".join(log[-3000:] for log in logs)
        # One run read the portal while the other waited for it, then ran as a rerun of the date.
        waited = [log for log in logs if "another daily run is reading the portal" in log]
        assert len(waited) == 1, "\n=====\n".join(log[-3000:] for log in logs)
        assert waited[0].count("already sent for this run or report date, skipped") == EXPECTED_EMAILS
        assert await day_contents(url) == clean_day
        assert await documents_match_files(url, home) == ["A668", "A817"]
        subjects = received_once(handler)
        assert len(subjects) == EXPECTED_EMAILS and pdf_attachments(handler) == PDFS, subjects


ROWS_PER_STORE = 2_000


def ingest_command(env: dict[str, str], files: list[Path], log: Path) -> subprocess.Popen[bytes]:
    return start(env, "ingest", "missed_leads", *map(str, files), "--date", DAY.isoformat(), log=log)


def new_updated_unchanged(output: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+) row\(s\) ingested \((\d+) new, (\d+) updated, (\d+) unchanged\)", output)
    assert match, output[-3000:]
    return int(match.group(2)), int(match.group(3)), int(match.group(4))


async def test_crm_ingest_of_one_bucket_from_two_processes_at_once(
    pg_template: str, tmp_path: Path, pg_url: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    files = [export(folder, f"{store}-missed-leads.csv", store, ROWS_PER_STORE) for store in ("A668", "A817")]
    total = 2 * ROWS_PER_STORE
    base = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}

    # The reference: one ingest alone.
    alone_env = base | {"CRM_HOME": str(tmp_path / "alone"), "DATABASE_URL": pg_url}
    alone = ingest_command(alone_env, files, tmp_path / "alone.log")
    assert await asyncio.to_thread(alone.wait, 300) == 0
    assert new_updated_unchanged((tmp_path / "alone.log").read_text()) == (total, 0, 0)

    async with seeded_database(pg_template) as url:
        env = base | {"CRM_HOME": str(tmp_path / "home"), "DATABASE_URL": url}
        # Both transactions are opened and wait on one lock, then go at once.
        lock = await hold_table_lock(url, "missed_leads")
        try:
            runs = [ingest_command(env, files, tmp_path / f"ingest{n}.log") for n in (1, 2)]
            await wait_for_lock_waiters(url, runs, waiters=2)
        finally:
            await release(lock)
        codes = [await asyncio.to_thread(run.wait, 300) for run in runs]
        outputs = [(tmp_path / f"ingest{n}.log").read_text(errors="replace") for n in (1, 2)]
        assert codes == [0, 0], "\n=====\n".join(o[-3000:] for o in outputs)
        counts = [new_updated_unchanged(output) for output in outputs]
        # Every row inserted exactly once between them; the other process found it (updated, or unchanged
        # when the first had committed the same values before it compared).
        assert sum(new for new, _updated, _unchanged in counts) == total, counts
        assert all(sum(count) == total for count in counts), counts
        assert await bucket_rows(url, "missed_leads") == await bucket_rows(pg_url, "missed_leads")
        # Each process worked on copies of its own; both removed them after their ok audit.
        assert list((tmp_path / "home" / "downloads" / "ingest").iterdir()) == []
        assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files)
