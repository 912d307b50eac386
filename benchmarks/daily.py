"""Benchmark: the whole daily flow for 3, 10 and 30 simulator stores (every store a report store).

Prints wall time, time per step (the run's task runs as the Prefect API records them, summed per task),
Prefect overhead (flow wall time minus the time spent inside its tasks) and PDFs per second. Uses a
temporary Prefect server, a throw-away PostgreSQL database on 127.0.0.1:5432 and the file outbox.

    .venv/bin/python benchmarks/daily.py [--stores 3,10,30] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sqlalchemy import text  # noqa: E402

from crm_core.db import migrate  # noqa: E402
from crm_core.db.engine import make_engine, session_factory  # noqa: E402
from crm_core.db.stores import add_recipient, add_store  # noqa: E402
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME  # noqa: E402
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer  # noqa: E402

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


async def one_run(n: int, concurrency: int, sim: SandboxServer, work: Path) -> dict[str, Any]:
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
            PORTAL_BASE_URL=sim.portal_origin,
            PORTAL_TMS_URL=sim.tms_origin,
            PORTAL_USERNAME=DEMO_USERNAME,
            PORTAL_PASSWORD=DEMO_PASSWORD,
            PORTAL_CONCURRENCY=str(concurrency),
        )
        home.mkdir(parents=True, exist_ok=True)
        from flows.daily import daily_flow

        started = time.perf_counter()
        state = await daily_flow(report_date=DAY, return_state=True)  # type: ignore[call-overload]
        wall = time.perf_counter() - started
        result = await state.aresult(raise_on_failure=False)
        if not isinstance(result, dict):
            raise SystemExit(f"{n} stores: run ended {state.name}: {result}")
        steps = await task_seconds(result["run_id"])
        pdfs = result["metrics"]["pdf"]["generated"]
        return {
            "stores": n,
            "status": result["status"],
            "wall": wall,
            "steps": steps,
            "overhead": max(wall - sum(steps.values()), 0.0) / wall,
            "pdfs": pdfs,
            "pdf_rate": pdfs / steps["PDFs"] if steps.get("PDFs") else 0.0,
            "rows": sum(b["counts"]["ingested_rows"] for b in result["metrics"]["buckets"].values()),
        }
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="3,10,30")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(SandboxConfig(dashboard_date=DAY)) as sim,
        prefect_test_harness(server_startup_timeout=120),
    ):
        for n in (int(s) for s in args.stores.split(",")):
            print(f"running the daily flow for {n} stores …", file=sys.stderr, flush=True)
            rows.append(await one_run(n, args.concurrency, sim, Path(tmp)))
    out = io.StringIO()
    header = [
        "stores",
        "status",
        "wall s",
        *(f"{s} s" for s in STEPS.values()),
        "Prefect overhead",
        "PDFs",
        "PDFs/s",
    ]
    header.append("rows ingested")
    out.write("| " + " | ".join(header) + " |\n| " + " | ".join("---" for _ in header) + " |\n")
    for row in rows:
        cells = [
            str(row["stores"]),
            row["status"],
            f"{row['wall']:.1f}",
            *(f"{row['steps'].get(step, 0.0):.2f}" for step in STEPS.values()),
            f"{row['overhead']:.0%}",
            str(row["pdfs"]),
            f"{row['pdf_rate']:.1f}",
            str(row["rows"]),
        ]
        out.write("| " + " | ".join(cells) + " |\n")
    print(f"\ndaily flow, PORTAL_CONCURRENCY={args.concurrency}, PostgreSQL, file outbox\n")
    print(out.getvalue())


if __name__ == "__main__":
    asyncio.run(main())
