"""Weekly and monthly catch-up at scale: N stores with a year of dashboard history, every missed week and
month produced in one `crm run weekly` / `crm run monthly` (the real flows, a temporary Prefect server,
PostgreSQL, emails to the outbox folder).

    .venv/bin/python benchmarks/periods.py [--stores 30] [--weeks 52] [--months 12]

Printed side by side: the baseline — the same stores' daily PDFs rendered by the same report machinery
(PDFs per second of the daily report) — and ours: wall time, PDFs per second and peak RSS of each catch-up.
Needs the PostgreSQL server of the tests (127.0.0.1:5432, trust auth for `postgres`); it creates and drops
a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from datetime import date, timedelta
from pathlib import Path

import asyncpg

from crm_core.db import migrate
from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import StoreMaster, store_dashboard_summary
from crm_core.db.stores import add_recipient, add_store
from crm_core.demo import demo_history_row
from crm_core.json_logger import EventLogger
from crm_core.periods import daily_report_date, last_complete_period, period_containing
from crm_core.reports.daily import render_store_reports
from crm_core.settings import Settings

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def prepare(url: str, stores: int, first_day: date, last_day: date) -> list[str]:
    """Migrated database with `stores` report stores, recipients and daily dashboard figures."""
    engine = make_engine(url)
    await migrate.upgrade(engine)
    codes = [f"B{100 + i}" for i in range(stores)]
    async with session_factory(engine)() as session, session.begin():
        for code in codes:
            await add_store(session, code, name=f"Bench store {code}", etl=True, report=True)
        await add_recipient(session, "run_summary", "owner@example.com")
        for profile in ("store_weekly_reports", "store_monthly_reports", "store_daily_reports"):
            await add_recipient(session, profile, "stores@example.com")
    async with session_factory(engine)() as session, session.begin():
        rows = (await session.execute(StoreMaster.__table__.select())).mappings().all()
        ids = {row["store_code"]: row["id"] for row in rows}
        for code in codes:
            mtd: dict[str, int] = {}
            day = first_day.replace(day=1)
            batch = []
            while day <= last_day:
                row = demo_history_row(ids[code], day, zlib.crc32(f"{code}:{day}".encode()), mtd)
                if day >= first_day:
                    batch.append(row)
                day += timedelta(days=1)
            await session.execute(store_dashboard_summary.insert(), batch)
    await engine.dispose()
    return codes


def run_catch_up(kind: str, count: int, env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, PDFs produced and peak RSS (MiB) of one `crm run weekly|monthly` process."""
    crm = str(Path(sys.executable).with_name("crm"))
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [crm, "run", kind, "--max-periods", str(count)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        _pid, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, not the largest so far
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        printed = out.read()
    if process.returncode != 0:
        raise SystemExit(f"crm run {kind} failed ({process.returncode}):\n{printed[-3000:]}")
    pdfs = sum(int(line.split(" PDFs")[0].split()[-1]) for line in printed.splitlines() if " PDFs" in line)
    return wall, pdfs, usage.ru_maxrss / 1024


async def daily_baseline(url: str, home: Path, codes: list[str], day: date) -> tuple[float, int]:
    """The daily report machinery on the same stores: seconds for one PDF per store."""
    settings = Settings(_env_file=None, crm_home=home, database_url=url)  # type: ignore[call-arg]
    engine = make_engine(url)
    logger = EventLogger("bench-daily", "dashboard_daily", stream=None)
    start = time.perf_counter()
    result = await render_store_reports(engine, settings, codes, day, "bench-daily", logger)
    wall = time.perf_counter() - start
    await engine.dispose()
    return wall, len(result.having("ok"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=30)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()

    last_day = daily_report_date()
    # History from the first day of the oldest period to produce: exactly `weeks` weeks and `months`
    # months are missing when the catch-up starts.
    oldest = [last_complete_period("week"), last_complete_period("month")]
    for index, count in ((0, args.weeks), (1, args.months)):
        for _ in range(count - 1):
            oldest[index] = period_containing(oldest[index].start - timedelta(days=1), oldest[index].kind)
    first_day = min(period.start for period in oldest)
    database = f"crm_bench_periods_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="crm-bench-periods-") as tmp:
            home = Path(tmp)
            seeded = time.perf_counter()
            codes = asyncio.run(prepare(url, args.stores, first_day, last_day))
            print(
                f"{args.stores} stores, dashboard history {first_day} … {last_day} "
                f"(seeded in {time.perf_counter() - seeded:.1f} s)"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL", "SMTP_"))}
            env |= {
                "CRM_HOME": str(home),
                "DATABASE_URL": url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
            }
            base_wall, base_pdfs = asyncio.run(daily_baseline(url, home, codes, last_day))
            rows = [("daily PDFs (baseline)", base_wall, base_pdfs, float("nan"))]
            for kind, count in (("weekly", args.weeks), ("monthly", args.months)):
                wall, pdfs, rss = run_catch_up(kind, count, env)
                rows.append((f"{kind} catch-up, {count} periods", wall, pdfs, rss))
            print(f"{'':32} {'wall s':>8} {'PDFs':>6} {'PDFs/s':>7} {'peak RSS MiB':>13}")
            for name, wall, pdfs, rss in rows:
                rss_text = "-" if rss != rss else f"{rss:.0f}"
                print(f"{name:32} {wall:8.1f} {pdfs:6d} {pdfs / wall:7.2f} {rss_text:>13}")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
