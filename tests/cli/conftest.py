"""Running `crm` in-process (typer's CliRunner) or as the installed script, with an environment of the
test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_core.cli import app

Crm = Callable[..., tuple[int, str]]


@pytest.fixture
def crm() -> Crm:
    """`crm(env, *args)` → (exit code, output)."""
    runner = CliRunner()

    def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def empty_db_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """A CRM_HOME of its own and a fresh database (SQLite and PostgreSQL)."""
    return {"CRM_HOME": str(tmp_path / "home"), "DATABASE_URL": db_url}


OWN_VARIABLES = ("CRM_", "DATABASE_URL", "PORTAL_", "SMTP_", "CHROMIUM_PATH")
CrmProcess = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def crm_process(tmp_path: Path) -> CrmProcess:
    """`crm_process(*args, **env)`: the installed `crm` script as a real subprocess, in tmp_path, with none
    of the developer's CRM_*, DATABASE_URL, PORTAL_* or SMTP_* variables and CRM_HOME under tmp_path."""
    executable = str(Path(sys.executable).with_name("crm"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
    base["CRM_HOME"] = str(tmp_path / "home")

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [executable, *args],
            cwd=tmp_path,
            env=base | env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
