"""Start-up time of the `crm` command: median wall (and CPU) seconds of N runs, next to the bare
interpreter's.

    .venv/bin/python benchmarks/cli_startup.py [--runs 15] [--crm PATH]

`crm stores list` runs against a temporary SQLite CRM_HOME (migrated before timing), so it measures the
imports, settings, one connection and one query. Next to it, the floor: importing only the libraries that
command needs (SQLAlchemy's async ORM with both dialects, pydantic-settings, typer, rich), nothing of ours.
Standard library only: nothing of ours is imported here.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARIES_OF_STORES_LIST = (
    "import asyncio, aiosqlite, pydantic_settings, typer.main, rich.console, rich.table, sqlalchemy.orm, "
    "sqlalchemy.ext.asyncio, sqlalchemy.dialects.sqlite.aiosqlite, sqlalchemy.dialects.postgresql"
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(cmd: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each run; CPU time barely moves when other work shares
    the machine, wall time does."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu, start = cpu_seconds(), time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--crm", default=str(Path(sys.executable).with_name("crm")), help="the crm script")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crm-startup-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL"))}
        env |= {"CRM_HOME": home, "CRM_RUN_ENV": "dev"}
        subprocess.run([args.crm, "db", "upgrade"], env=env, capture_output=True, check=True)
        cases = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "crm --help": [args.crm, "--help"],
            "libraries of stores list": [sys.executable, "-c", LIBRARIES_OF_STORES_LIST],
            "crm stores list": [args.crm, "stores", "list"],
        }
        for cmd in cases.values():  # warm the file-system cache and the byte-code
            timed_runs(cmd, env, 1)
        print(f"median of {args.runs} runs, seconds (wall min–max)")
        print(f"{'':28} {'wall':>6}  {'cpu':>6}")
        for name, cmd in cases.items():
            walls, cpus = timed_runs(cmd, env, args.runs)
            print(
                f"{name:28} {statistics.median(walls):6.3f}  {statistics.median(cpus):6.3f}"
                f"  ({min(walls):.3f}–{max(walls):.3f})"
            )


if __name__ == "__main__":
    main()
