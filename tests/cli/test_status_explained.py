"""`crm status` says which run it expected and when that was due (zone named), and `--json` times carry
their offset."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime

from crm_core.pipelines import DAILY
from tests.cli.conftest import Crm
from tests.runs.test_health import row, seed


def test_missing_run_says_which_run_was_expected_and_when_it_was_due(
    crm: Crm, empty_db_env: dict[str, str], db_url: str
) -> None:
    env = empty_db_env | {"CRM_TODAY": "2026-12-01", "STATUS_GRACE_MINUTES": "45"}
    code, output = crm(env | {"COLUMNS": "300"}, "status")
    assert code == 1
    line = next(line for line in output.splitlines() if line.startswith(f"{DAILY.code}:"))
    assert "MISSING: no run for 2026-11-30 (due 2026-12-01 07:30 IST + 45 min grace; " in line, line
    assert "the run for 2026-12-01 is expected after 2026-12-02 08:15 IST)" in line, line

    asyncio.run(
        seed(db_url, row("d1", DAILY.code, date(2026, 11, 30), "ok", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)))
    )
    code, output = crm(env | {"COLUMNS": "300"}, "status")
    line = next(line for line in output.splitlines() if line.startswith(f"{DAILY.code}:"))
    assert "last run 2026-12-01 08:30 IST ok" in line and "grace" not in line, line

    code, output = crm(env, "status", "--json")
    started = json.loads(output)["pipelines"][0]["last_run"]["started_at"]
    assert re.fullmatch(r"2026-12-01T03:00:00(\+00:00|Z)", started), started
