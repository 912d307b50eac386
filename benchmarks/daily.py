"""Benchmark: the whole daily flow for N simulator stores (every store a report store), then (with
`--rerun`) the same day again.

Prints, per run, wall time and time per phase (the run's task runs as the Prefect API records them, summed
per task), Prefect overhead (flow wall time minus the time spent inside its tasks), PDFs per second, rows
ingested, the peak RSS of this process (the flow runs in it) and of the browser (Chromium's processes,
sampled), and the database size afterwards. The simulator runs in a process of its own; `--rows` gives
every export that many rows, `--latency` delays every simulator response. Uses a temporary Prefect
server, a throw-away PostgreSQL database on 127.0.0.1:5432 and the file outbox. The load average is
printed with the numbers: the machine may be shared.

    .venv/bin/python benchmarks/daily.py [--stores 3,10,30] [--concurrency 2]
    .venv/bin/python benchmarks/daily.py --stores 200 --rows 5000 --latency 0.2 --concurrency 4 --rerun
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import psutil  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.download import start_simulator  # noqa: E402
from crm_core.db import migrate  # noqa: E402
from crm_core.db.engine import make_engine, session_factory  # noqa: E402
from crm_core.db.stores import add_recipient, add_store  # noqa: E402
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME  # noqa: E402

DAY = date(2025, 11, 19)
ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Task-run name prefix → column: what each step of the flow costs.
STEPS = {
    "download-portal-exports": "download",
    "store-dashboard-figures": "figures",
    "process-": "merge+ingest+audit",  # one task run per bucket, named process-<bucket>
    "render-store-reports": "PDFs",
    "save-run-summary": "summary",
    "send-notifications": "emails",
    "publish-run-artifacts": "artifacts",
}


async def admin(sql: str) -> None:
    engine = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def prepare(url: str, stores: list[str]) -> None:
    engine = make_engine(url)
    await migrate.upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        for code in stores:
            await add_store(session, code, name=f"Bench store {code}", etl=True, report=True)
        await add_recipient(session, "run_summary", "owner@example.com")
        await add_recipient(session, "store_daily_reports", "stores@example.com")
    await engine.dispose()


async def task_seconds(flow_run_id: str) -> dict[str, float]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter

    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)])),
            task_run_filter=TaskRunFilter(),
        )
    steps: dict[str, float] = {}
    for run in runs:
        step = next((column for prefix, column in STEPS.items() if run.name.startswith(prefix)), run.name)
        steps[step] = steps.get(step, 0.0) + run.total_run_time.total_seconds()
    return steps


class BrowserMemory:
    """Peak summed RSS of the browser's processes among this process's descendants (the simulator and the
    Prefect server are descendants too, and are left out), sampled every 0.2 s. Chromium's processes
    share pages, so the sum overstates what they hold together."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "chrom" in child.name().lower() or "headless" in child.name().lower():
                        total += child.memory_info().rss
            self.peak = max(self.peak, total)

    def __enter__(self) -> BrowserMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reset_peak_rss() -> None:
    """Start a new peak for VmHWM (Linux: writing 5 to clear_refs resets it), so each run has its own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def database_mb(url: str) -> float:
    engine = make_engine(url)
    async with engine.connect() as conn:
        size = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
    await engine.dispose()
    return int(size) / 1e6


async def flow_run(label: str, n: int, url: str) -> dict[str, Any]:
    from flows.daily import daily_flow

    reset_peak_rss()
    with BrowserMemory() as browser:
        started = time.perf_counter()
        state = await daily_flow(report_date=DAY, return_state=True)  # type: ignore[call-overload]
        wall = time.perf_counter() - started
    result = await state.aresult(raise_on_failure=False)
    if not isinstance(result, dict):
        raise SystemExit(f"{n} stores: run ended {state.name}: {result}")
    steps = await task_seconds(result["run_id"])
    pdfs = result["metrics"]["pdf"]["generated"]
    counts = [b["counts"] for b in result["metrics"]["buckets"].values()]
    return {
        "stores": n,
        "run": label,
        "status": result["status"],
        "wall": wall,
        "steps": steps,
        "overhead": max(wall - sum(steps.values()), 0.0) / wall,
        "pdfs": pdfs,
        "pdf_rate": pdfs / steps["PDFs"] if steps.get("PDFs") else 0.0,
        "rows": sum(c["ingested_rows"] for c in counts),
        "written": sum(c["inserted"] + c["updated"] for c in counts),
        "rss": peak_rss_mb(),
        "browser": browser.peak / 2**20,
        "db": await database_mb(url),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


async def one_run(
    n: int, concurrency: int, sim: tuple[str, str], work: Path, rerun: bool
) -> list[dict[str, Any]]:
    stores = [f"B{100 + i}" for i in range(n)]
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    home = work / f"home-{n}"
    try:
        await prepare(url, stores)
        os.environ.update(
            CRM_HOME=str(home),
            DATABASE_URL=url,
            PORTAL_BASE_URL=sim[0],
            PORTAL_TMS_URL=sim[1],
            PORTAL_USERNAME=DEMO_USERNAME,
            PORTAL_PASSWORD=DEMO_PASSWORD,
            PORTAL_CONCURRENCY=str(concurrency),
            CRM_TODAY=(DAY + timedelta(days=1)).isoformat(),  # DAY is T-1: the portal is read
        )
        home.mkdir(parents=True, exist_ok=True)
        rows = [await flow_run("day", n, url)]
        if rerun:
            print(f"… and the same day again for {n} stores …", file=sys.stderr, flush=True)
            rows.append(await flow_run("rerun", n, url))
        return rows
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    header = [
        "stores",
        "run",
        "status",
        "wall s",
        *(f"{s} s" for s in STEPS.values()),
        "Prefect overhead",
        "PDFs/s",
        "rows ingested",
        "rows written",
        "peak RSS MB",
        "browser MB",
        "database MB",
        "load avg",
    ]
    out.write("| " + " | ".join(header) + " |\n| " + " | ".join("---" for _ in header) + " |\n")
    for row in rows:
        cells = [
            str(row["stores"]),
            row["run"],
            row["status"],
            f"{row['wall']:.1f}",
            *(f"{row['steps'].get(step, 0.0):.2f}" for step in STEPS.values()),
            f"{row['overhead']:.0%}",
            f"{row['pdf_rate']:.1f}",
            f"{row['rows']:,}",
            f"{row['written']:,}",
            f"{row['rss']:.0f}",
            f"{row['browser']:.0f}",
            f"{row['db']:.0f}",
            row["load"],
        ]
        out.write("| " + " | ".join(cells) + " |\n")
    return out.getvalue()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="3,10,30")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rows", type=int, default=None, help="rows per export (default: the store's own)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per simulator response")
    parser.add_argument("--rerun", action="store_true", help="run the same day again and report it too")
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    rows: list[dict[str, Any]] = []
    proc, portal, tms = start_simulator(args.latency, rows=args.rows)
    try:
        with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
            for n in (int(s) for s in args.stores.split(",")):
                print(f"running the daily flow for {n} stores …", file=sys.stderr, flush=True)
                rows += await one_run(n, args.concurrency, (portal, tms), Path(tmp), args.rerun)
    finally:
        proc.terminate()
        proc.wait()
    size = f"{args.rows:,} rows per export" if args.rows else "each store's own rows"
    print(
        f"\ndaily flow, PORTAL_CONCURRENCY={args.concurrency}, simulator latency {args.latency:g} s, "
        f"{size}, PostgreSQL, file outbox, {os.cpu_count()} CPUs\n"
    )
    print(table(rows))


if __name__ == "__main__":
    asyncio.run(main())
