"""`crm run daily` refuses bad input and missing prerequisites before any browser or Prefect work."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_core.cli import app


def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("CRM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_bad_date_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "daily", "--date", "2025-13-01")
    assert code == 2 and "--date '2025-13-01' is not a date (YYYY-MM-DD)" in output


def test_no_etl_store_exits_2_before_the_flow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "daily")
    assert code == 2 and "no stores are flagged for ETL" in output
    assert "Traceback" not in output


def test_missing_portal_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    assert CliRunner().invoke(app, ["stores", "add", "A668"], env={"DATABASE_URL": sqlite_url}).exit_code == 0
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "daily", "--dry-run")
    assert code == 2 and "PORTAL_BASE_URL and PORTAL_TMS_URL must be set" in output
    monkeypatch.setenv("PORTAL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PORTAL_TMS_URL", "http://127.0.0.1:9")
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "daily")
    assert code == 2 and "PORTAL_USERNAME and PORTAL_PASSWORD must be set" in output


CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture of conftest.py
CHROMIUM_HINT = "install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH"


def test_missing_chromium_is_one_line_and_exit_2_before_the_run(
    crm_process: CrmProcess, tmp_path: Path
) -> None:
    result = crm_process("run", "daily", "--dry-run", CHROMIUM_PATH=str(tmp_path / "no" / "chromium"))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert output.splitlines() == [
        f"error: Chromium not found (CHROMIUM_PATH={tmp_path / 'no' / 'chromium'} is not an executable "
        f"file): {CHROMIUM_HINT} to the browser executable"
    ]
    assert "Traceback" not in output and "playwright install" not in output
    assert not (tmp_path / "home").exists()  # checked before the database, Prefect or a browser


def test_period_options_are_checked_before_the_flow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "weekly", "--period", "2026-10-32")
    assert code == 2 and "--period '2026-10-32' is not a date (YYYY-MM-DD)" in output
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "monthly", "--period", "2026-13")
    assert code == 2 and "--period '2026-13' is not a month (YYYY-MM)" in output
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "weekly", "--max-periods", "0")
    assert code == 2


def test_no_report_store_exits_2_before_the_flow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    assert CliRunner().invoke(app, ["stores", "add", "A668"], env={"DATABASE_URL": sqlite_url}).exit_code == 0
    for kind in ("weekly", "monthly"):
        code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", kind)
        assert code == 2 and "no stores are flagged for reporting" in output, output
        assert "Traceback" not in output


def test_a_database_behind_the_code_refuses_every_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    import asyncio

    from crm_core.db import migrate
    from crm_core.db.engine import make_engine

    async def one_revision_back() -> None:
        engine = make_engine(sqlite_url)
        try:
            await migrate.downgrade(engine, "0003_email_run_status")
        finally:
            await engine.dispose()

    asyncio.run(one_revision_back())
    head = migrate.head_revision()
    line = f"error: database at revision 0003_email_run_status, code at {head}: run `crm db upgrade`"
    monkeypatch.setenv("PORTAL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PORTAL_TMS_URL", "http://127.0.0.1:9")
    for command in (["daily"], ["weekly"], ["monthly"]):
        code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", *command)
        assert code == 2, output
        assert output.strip().splitlines() == [line]


def test_a_date_after_t_minus_1_and_a_reversed_range_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    monkeypatch.setenv("CRM_TODAY", "2026-03-10")
    code, output = invoke(monkeypatch, tmp_path, sqlite_url, "run", "daily", "--date", "2026-03-10")
    assert code == 2, output
    assert output.strip().splitlines() == [
        "error: 2026-03-10 is after the latest report date 2026-03-09 (T-1): "
        "the portal has no data for it yet"
    ]
    code, output = invoke(
        monkeypatch, tmp_path, sqlite_url, "run", "daily", "--from", "2026-03-05", "--to", "2026-03-02"
    )
    assert code == 2, output
    assert output.strip().splitlines() == ["error: the range starts (2026-03-05) after it ends (2026-03-02)"]
