"""`crm status` and `crm housekeeping` as an operator's cron or monitoring calls them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

from crm_core.pipelines import DAILY, MONTHLY, WEEKLY
from tests.cli.conftest import Crm
from tests.runs.test_health import row, seed


def test_crm_status_exits_1_until_every_expected_run_is_good(
    crm: Crm, empty_db_env: dict[str, str], db_url: str
) -> None:
    # CRM_TODAY (a portal frozen at a day): that day's scheduled runs count as due.
    env = empty_db_env | {"CRM_TODAY": "2026-12-01"}
    code, output = crm(env, "status")
    assert code == 1 and "MISSING: no run for 2026-11-30" in output, output

    started = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    asyncio.run(
        seed(
            db_url,
            row("d1", DAILY.code, date(2026, 11, 30), "ok", started),
            row("w1", WEEKLY.code, date(2026, 11, 29), "ok", started),
            row("m1", MONTHLY.code, date(2026, 11, 30), "warning", started),
        )
    )
    code, output = crm(env, "status", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["healthy"] is True
    assert [p["last_run"]["run_id"] for p in report["pipelines"]] == ["d1", "w1", "m1"]
    code, output = crm(env, "status")
    assert code == 0 and "ok: 2026-11" in output, output


def test_crm_housekeeping_dry_run_lists_every_retention(crm: Crm, empty_db_env: dict[str, str]) -> None:
    code, output = crm(empty_db_env | {"RETENTION_PDF_DAYS": "30"}, "housekeeping", "--dry-run")
    assert code == 0, output
    assert "report PDFs older than 30 days: would delete 0" in output
    for name in ("outbox emails", "login artifacts", "kept downloads", "run summaries", "email send log"):
        assert name in output
    assert "dry run: nothing deleted or changed" in output
    code, output = crm(empty_db_env | {"RETENTION_PDF_DAYS": "0"}, "housekeeping")
    assert code == 2 and "RETENTION_PDF_DAYS" in output, output
