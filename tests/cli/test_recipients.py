"""`crm recipients add|list`: the recipient rules, on both dialects."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py
CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture


def test_recipient_rules(crm: Crm, empty_db_env: dict[str, str]) -> None:
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


def test_list_shows_long_addresses_whole_at_80_columns(crm_process: CrmProcess, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", "COLUMNS": "80"}
    assert crm_process("db", "upgrade", **env).returncode == 0
    assert crm_process("stores", "add", "A817", **env).returncode == 0  # a recipient's store must exist
    address = "store.manager.kirtinagr@franchise-tsv.in"
    assert len(address) == 40
    added = crm_process("recipients", "add", "store_daily_reports", address, "--store", "A817", **env)
    assert added.returncode == 0, added.stdout + added.stderr
    shown = crm_process("recipients", "list", **env)
    assert shown.returncode == 0, shown.stderr
    assert address in shown.stdout, shown.stdout
    assert all(len(line) <= 80 for line in shown.stdout.splitlines()), shown.stdout


def test_the_cli_refuses_control_characters(crm: Crm, empty_db_env: dict[str, str]) -> None:
    crm(empty_db_env, "db", "upgrade")
    for extra in (["--name", "Eve\r\nBcc: eve@evil.example"], ["--name", "Eve\x1b[2J"]):
        code, output = crm(empty_db_env, "recipients", "add", "run_summary", "real@example.com", *extra)
        assert code == 2, output
        assert "recipient display name contains control characters" in output and "evil" not in output
    code, output = crm(empty_db_env, "recipients", "add", "run_summary", "a\x00b@example.com")
    assert code == 2 and "recipient email address contains control characters" in output
    code, output = crm(empty_db_env, "recipients", "list")
    assert "real@example.com" not in output and "no recipients yet" in output
