"""`crm demo` on embedded defaults (SQLite, file outbox, simulator): the README's main command."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CrmProcess = Callable[..., subprocess.CompletedProcess[str]]  # the `crm_process` fixture of conftest.py
CHROMIUM_HINT = "install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH"


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_demo_runs_the_daily_job_and_a_second_run_sends_nothing_twice(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    home = tmp_path / "var"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL", "PORTAL_", "SMTP_"))
    }
    env |= {"CRM_HOME": str(home), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    crm = str(Path(sys.executable).with_name("crm"))

    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [crm, "demo", "--date", "2025-11-19"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            preexec_fn=lambda: os.umask(
                0o022
            ),  # the usual umask: the product must not rely on a stricter one
        )

    first = demo()
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert "seeded    store A668 (report)" in first.stdout
    assert "Status: ok" in first.stdout
    pdfs = sorted(p.name for p in (home / "reports" / "2025" / "daily").glob("*.pdf"))
    assert pdfs == ["A668_2025-11-19.pdf", "A817_2025-11-19.pdf"]
    for name in pdfs:
        assert f"PDF     {home / 'reports' / '2025' / 'daily' / name}" in first.stdout
    emails = list((home / "outbox").rglob("*.eml"))
    # The daily run's 3, then per week (5) and month (1) of the demo history: 2 store emails + the summary.
    assert len(emails) == 3 + 6 * 3, first.stdout[-3000:]
    assert "seeded    dashboard history: " in first.stdout and "(run_id demo-history)" in first.stdout
    weekly = home / "reports" / "2025" / "weekly"
    assert "weekly 2025-11-10_to_2025-11-16  produced  ok  run " in first.stdout
    assert f"3 PDFs in {weekly}" in first.stdout
    assert "monthly 2025-10  produced" in first.stdout
    assert (weekly / "ALL_week_2025-11-10_to_2025-11-16.pdf").is_file()
    assert (home / "logs" / "events.ndjson").stat().st_size > 0
    with sqlite3.connect(home / "crm.db") as db:
        assert db.execute("SELECT count(*) FROM missed_leads").fetchone()[0] > 0

    assert_private(home)

    second = demo()
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert "seeded" not in second.stdout
    assert "weekly 2025-11-10_to_2025-11-16  skipped: already produced (ok)" in second.stdout
    assert len(list((home / "outbox").rglob("*.eml"))) == 3 + 6 * 3


def assert_private(home: Path) -> None:
    """Customer data is not world-readable: every folder under CRM_HOME 0700, every file 0600."""
    loose = [
        f"{p.relative_to(home)} {stat.S_IMODE(p.lstat().st_mode):o}"
        for p in [home, *home.rglob("*")]
        if stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)
    ]
    assert not loose, loose
    assert len(list(home.rglob("*.pdf"))) > 3


def test_demo_without_chromium_says_how_to_install_it(crm_process: CrmProcess, tmp_path: Path) -> None:
    result = crm_process("demo", CHROMIUM_PATH=str(tmp_path / "chromium"))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert len(output.splitlines()) == 1 and CHROMIUM_HINT in output and "CHROMIUM_PATH=" in output
    assert "Traceback" not in output and "playwright install" not in output
    assert not (tmp_path / "home").exists()  # nothing seeded, no simulator, no Prefect


def test_demo_without_any_browser_on_the_machine(crm_process: CrmProcess, tmp_path: Path) -> None:
    """No CHROMIUM_PATH, no chromium on PATH and no Playwright download: the same one line."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = crm_process("demo", PATH=str(empty), PLAYWRIGHT_BROWSERS_PATH=str(empty))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert output.splitlines() == [
        f"error: Chromium not found (none on PATH and no Playwright browser download): {CHROMIUM_HINT} "
        "to the browser executable"
    ]
    assert not (tmp_path / "home").exists()
