"""`crm run weekly|monthly` as an operator runs them: real processes, a temporary Prefect server each, a
SQLite database with stored dashboard history, PDFs read back."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pypdf import PdfReader

from crm_core.db import migrate
from crm_core.db.engine import make_engine, session_factory
from crm_core.demo import seed_dashboard_history, seed_demo
from crm_core.periods import last_complete_period

CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture of conftest.py
MONTH = last_complete_period("month")


def seeded_home(tmp_path: Path) -> Path:
    """CRM_HOME with the demo stores and dashboard history covering the last complete month."""
    home = tmp_path / "home"
    home.mkdir()

    async def seed() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{home / 'crm.db'}")
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            await seed_demo(session)
            days = (MONTH.end - MONTH.start).days + 3
            await seed_dashboard_history(session, MONTH.end + timedelta(days=1), days=days)
        await engine.dispose()

    asyncio.run(seed())
    return home


def test_monthly_backfill_of_one_month(crm_process: CrmProcess, tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    done = crm_process("run", "monthly", "--period", MONTH.label, CRM_HOME=str(home))
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith(f"monthly {MONTH.label}"))
    assert "  produced  ok  " in line and "3 PDFs" in line, line
    folder = home / "reports" / f"{MONTH.end:%Y}" / "monthly"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{code}_month_{MONTH.label}.pdf" for code in ("A668", "A817", "ALL")
    ]
    text = "\n".join(page.extract_text() for page in PdfReader(folder / f"ALL_month_{MONTH.label}.pdf").pages)
    assert f"TSV Monthly Store Performance Report • Month: {MONTH.start:%B %Y}" in text
    assert "Week by Week" in text and "Pickups" in text

    again = crm_process("run", "monthly", "--period", MONTH.label, CRM_HOME=str(home))
    assert again.returncode == 0 and "skipped: already produced (ok)" in again.stdout, again.stdout


def test_a_period_that_ends_in_error_exits_1(crm_process: CrmProcess, tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    week = last_complete_period("week")
    # A file where the weekly folder must go: every PDF of the week fails to render.
    (home / "reports" / f"{week.end:%Y}").mkdir(parents=True)
    (home / "reports" / f"{week.end:%Y}" / "weekly").write_text("not a folder")
    done = crm_process("run", "weekly", "--period", week.start.isoformat(), CRM_HOME=str(home))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"weekly {week.label}  produced  error" in done.stdout, done.stdout
