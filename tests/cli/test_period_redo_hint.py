"""A period already produced is skipped with the exact command that redoes it (`crm demo` has no --force)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

from crm_core.periods import month_of, week_of
from crm_core.runs.period import redo_command
from tests.cli.test_run_periods import MONTH, seeded_home

CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture of conftest.py


def test_redo_command_names_the_period_and_its_pipeline() -> None:
    assert redo_command(week_of(date(2026, 11, 25))) == "crm run weekly --period 2026-11-23 --force"
    assert redo_command(month_of(date(2026, 11, 25))) == "crm run monthly --period 2026-11 --force"


def test_second_run_names_the_command_that_redoes_the_period(crm_process: CrmProcess, tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    assert crm_process("run", "monthly", "--period", MONTH.label, CRM_HOME=str(home)).returncode == 0
    again = crm_process("run", "monthly", "--period", MONTH.label, CRM_HOME=str(home))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"skipped: already produced (ok); `crm run monthly --period {MONTH.label} --force` redoes it" in (
        " ".join(again.stdout.split())
    ), again.stdout
