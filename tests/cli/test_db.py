"""`crm db`, `crm stores` and `crm recipients` on both dialects, as an operator would use them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_core.db import migrate

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py
CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture


def test_fresh_database_check_fails_until_stores_and_recipients_exist(
    crm: Crm, empty_db_env: dict[str, str]
) -> None:
    code, output = crm(empty_db_env, "db", "upgrade")
    assert code == 0, output
    assert f"at revision {migrate.head_revision()}" in output

    code, output = crm(empty_db_env, "db", "check")
    assert code == 1
    assert "no stores are flagged for ETL" in output
    assert "dashboard_daily/run_summary has no active recipient" in output
    assert "dashboard_monthly/store_monthly_reports has no active recipient" in output

    assert crm(empty_db_env, "stores", "add", "a668", "--name", "Uttam Nagar, Delhi", "--report")[0] == 0
    assert crm(empty_db_env, "stores", "add", "A526")[0] == 0
    assert crm(empty_db_env, "recipients", "add", "run_summary", "owner@example.com")[0] == 0
    for profile in ("store_daily_reports", "store_weekly_reports", "store_monthly_reports"):
        code, output = crm(empty_db_env, "recipients", "add", profile, "a668@example.com", "--store", "A668")
        assert code == 0, output
    code, output = crm(empty_db_env, "db", "check")
    assert code == 0, output
    assert "[db-check] OK" in output

    code, output = crm(empty_db_env, "stores", "list")
    assert "A668" in output and "Uttam Nagar, Delhi" in output and "A526" in output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL: is not a database URL"),
        ({"DATABASE_URL": "postgresql+asyncpg://u:pw-Hidden-1@127.0.0.1:9/db"}, "is unreachable"),
        ({"CRM_RUN_ENV": "staging"}, "CRM_RUN_ENV"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    crm: Crm, tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    code, output = crm({"CRM_HOME": str(tmp_path), **env}, "db", "check")
    assert code == 2
    assert expected in output
    assert "Traceback" not in output and "pw-Hidden-1" not in output
    assert len(output.strip().splitlines()) == 1


def test_pending_migrations_are_reported(crm: Crm, tmp_path: Path) -> None:
    env = {"CRM_HOME": str(tmp_path)}
    code, output = crm(env, "db", "check")
    assert code == 1 and "pending migrations" in output


def test_prod_without_a_database_url_exits_2_and_writes_no_sqlite(
    crm_process: CrmProcess, tmp_path: Path
) -> None:
    for args in (("db", "check"), ("stores", "list")):
        result = crm_process(*args, CRM_RUN_ENV="prod")
        output = (result.stdout + result.stderr).strip()
        assert result.returncode == 2, output
        assert output.splitlines() == [
            "error: invalid configuration: DATABASE_URL must be set when CRM_RUN_ENV=prod "
            "(or CRM_DB_BLOCK naming its block)"
        ]
    assert not list(tmp_path.rglob("*.db"))


def test_prod_with_only_a_database_block_exits_2_outside_runs(
    crm_process: CrmProcess, tmp_path: Path
) -> None:
    """Commands other than runs do not load blocks: they say so instead of using SQLite."""
    result = crm_process("stores", "list", CRM_RUN_ENV="prod", CRM_DB_BLOCK="prod")
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert len(output.splitlines()) == 1 and "DATABASE_URL is not set" in output and "Traceback" not in output
    assert not list(tmp_path.rglob("*.db"))
