"""`crm db`, `crm stores` and `crm recipients` on both dialects, as an operator would use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_core.cli import app

runner = CliRunner()


def crm(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def empty_db_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {"CRM_HOME": str(tmp_path / "home"), "DATABASE_URL": db_url}


def test_fresh_database_check_fails_until_stores_and_recipients_exist(empty_db_env: dict[str, str]) -> None:
    code, output = crm(empty_db_env, "db", "upgrade")
    assert code == 0, output
    assert "0003_email_run_status" in output

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


def test_store_rules(empty_db_env: dict[str, str]) -> None:
    crm(empty_db_env, "db", "upgrade")
    assert crm(empty_db_env, "stores", "add", "A817", "--no-etl", "--report")[0] == 2
    assert crm(empty_db_env, "stores", "add", "not a code")[0] == 2
    assert crm(empty_db_env, "stores", "add", "A817")[0] == 0
    code, output = crm(empty_db_env, "stores", "add", "A817")
    assert code == 2 and "already exists" in output
    code, output = crm(empty_db_env, "stores", "set", "A817", "--report", "--name", "Kirti Nagar, Delhi")
    assert code == 0 and "report=True" in output
    code, output = crm(empty_db_env, "stores", "set", "A817", "--no-etl")
    assert code == 2 and "must also be an ETL store" in output
    assert crm(empty_db_env, "stores", "set", "B999", "--etl")[0] == 2


def test_recipient_rules(empty_db_env: dict[str, str]) -> None:
    crm(empty_db_env, "db", "upgrade")
    code, output = crm(empty_db_env, "recipients", "add", "nope", "a@example.com")
    assert code == 2 and "no notification profile 'nope'" in output
    assert crm(empty_db_env, "recipients", "add", "run_summary", "not-an-email")[0] == 2
    assert crm(empty_db_env, "recipients", "add", "run_summary", "a@example.com", "--cc", "--bcc")[0] == 2
    code, output = crm(
        empty_db_env,
        "recipients",
        "add",
        "run_summary",
        "a@example.com",
        "--pipeline",
        "dashboard_daily",
        "--cc",
    )
    assert code == 0 and output.count("recipient on") == 1
    code, output = crm(empty_db_env, "recipients", "list")
    assert "a@example.com" in output and "cc" in output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL: is not a database URL"),
        ({"DATABASE_URL": "postgresql+asyncpg://u:pw-Hidden-1@127.0.0.1:9/db"}, "is unreachable"),
        ({"CRM_RUN_ENV": "staging"}, "CRM_RUN_ENV"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    code, output = crm({"CRM_HOME": str(tmp_path), **env}, "db", "check")
    assert code == 2
    assert expected in output
    assert "Traceback" not in output and "pw-Hidden-1" not in output
    assert len(output.strip().splitlines()) == 1


def test_pending_migrations_are_reported(tmp_path: Path) -> None:
    env = {"CRM_HOME": str(tmp_path)}
    code, output = crm(env, "db", "check")
    assert code == 1 and "pending migrations" in output


def test_every_command_has_a_working_help() -> None:
    """Help texts are rendered by rich: a stray `[...]` in one of them crashes `--help`."""
    import typer.main

    def paths(group: object, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [prefix]
        for name, command in getattr(group, "commands", {}).items():
            found += paths(command, (*prefix, name))
        return found

    commands = paths(typer.main.get_command(app), ())
    assert len(commands) > 20
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (path, result.output)
