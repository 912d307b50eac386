"""Running `crm` in-process (typer's CliRunner) with an environment of the test's choosing."""

from __future__ import annotations

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
