"""A plain (non-editable) install carries everything `crm db upgrade` needs, migrations included."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from crm_core.db import migrate
from crm_core.db.models import Base

ROOT = Path(__file__).resolve().parents[1]

# What the Docker image builds from, too.
SOURCES = ("pyproject.toml", "README.md", "crm_core", "tasks", "flows")


def _run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _build_wheel(tmp_path: Path) -> Path:
    # Build from a copy: setuptools builds in the source tree, and a stale build/ in the checkout could
    # put files into the wheel that the sources no longer have.
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    # No build isolation: the dev install already has setuptools, so nothing is downloaded.
    build = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src
    )
    assert build.returncode == 0, build.stderr
    wheels = list(dist.glob("tsv_crm-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _fresh_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert made.returncode == 0, made.stderr
    # The dependencies come from the dev virtualenv's site-packages, added as a plain path: its .pth files
    # (among them the editable install's finder for this checkout) are not processed that way, and the new
    # venv's own site-packages, holding the wheel, comes first on sys.path.
    purelib = Path(sysconfig.get_paths()["purelib"])
    new_purelib = Path(
        _run(
            venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    (new_purelib / "_dev_dependencies.pth").write_text(f"{purelib}\n")
    return venv


@pytest.mark.e2e
def test_installed_wheel_upgrades_a_fresh_database(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    revisions = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert "0001_baseline.py" in revisions
    for name in ["env.py", "script.py.mako", *(f"versions/{r}" for r in revisions)]:
        assert f"crm_core/db/migrations/{name}" in names, name

    venv = _fresh_venv(tmp_path)
    python = venv / "bin" / "python"
    installed = _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    assert installed.returncode == 0, installed.stderr

    # Outside the checkout, with nothing of the developer's environment pointing back into it.
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRM_", "DATABASE_URL", "PYTHON", "COV_CORE", "COVERAGE"))
    }
    env["CRM_HOME"] = str(home)
    where = _run(python, "-c", "import crm_core; print(crm_core.__file__)", cwd=cwd, env=env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    upgraded = _run(venv / "bin" / "crm", "db", "upgrade", cwd=cwd, env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr

    with sqlite3.connect(home / "crm.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert set(Base.metadata.tables) <= tables
    assert version == [(migrate.head_revision(),)]
