"""`crm recipients add|list`: the recipient rules, on both dialects."""

from __future__ import annotations

from collections.abc import Callable

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py


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
