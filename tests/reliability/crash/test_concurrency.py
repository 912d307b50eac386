"""Two runs of the same work at the same moment: the tables end as one run leaves them, no email twice.

Both daily runs are `crm run daily` processes on one machine (one CRM_HOME, as a CLI run and the
deployment's worker share it in the container): the deployment path runs the same flow in a process the
worker starts, so two commands are the same race with less start-up noise."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from crm_core.portal.sandbox.server import SandboxServer
from tests.reliability.crash.daily_process import (
    DAY,
    EXPECTED_EMAILS,
    PDFS,
    GatedHandler,
    daily_env,
    day_contents,
    documents_match_files,
    pdf_attachments,
    received_once,
    seeded_database,
    smtp,
    start,
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
        runs = [start(env, *command, log=tmp_path / f"run{n}.log") for n in (1, 2)]
        codes = [await asyncio.to_thread(run.wait, 600) for run in runs]
        logs = [(tmp_path / f"run{n}.log").read_text(errors="replace") for n in (1, 2)]
        assert codes == [0, 0], "\n=====\n".join(log[-3000:] for log in logs)
        assert await day_contents(url) == clean_day
        assert await documents_match_files(url, home) == ["A668", "A817"]
        subjects = received_once(handler)
        assert len(subjects) == EXPECTED_EMAILS and pdf_attachments(handler) == PDFS, subjects
