"""Daily store PDFs: the renderer before this work against the current one, in one run.

    .venv/bin/python benchmarks/pdf.py [--renders 10] [--rounds 3] [--stores 30] [--phase-rounds 2]

The "before" code is `crm_core` as of commit BEFORE (below), taken from git into a temporary directory: it
laid every PDF out twice to number its pages, built all six appearance streams of every checkbox and its
own font object for every text field, and ran without reportlab's C accelerator (hidden from it here, as it
was not installed then). Every measurement runs in a fresh process, the variants alternated round by round
so that a noisy machine slows them alike. Printed side by side with the ratio:

1. One daily store PDF of the size the issue measured (8 pages: 50 undelivered orders and 50 missed leads,
   each row with a checkbox and a comment field), drawn in one process: median milliseconds of wall time
   and of the process's CPU time (one core).
2. The PDF phase of a daily run for `--stores` stores with that data in PostgreSQL: `render_store_reports`
   (load each store's data, draw, write its `documents` row), wall seconds, with REPORT_WORKERS at its
   default (one process per core) and at 1.

Needs the PostgreSQL server of the tests (127.0.0.1:5432, trust auth for `postgres`); it creates and drops
a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "b376760"
DAY = date(2025, 11, 17)
ORDERS, LEADS = 50, 50
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

# name: (code tree, reportlab's C accelerator)
SINGLE_VARIANTS = {
    "before": ("before", False),
    "before + accelerator": ("before", True),
    "now without accelerator": ("now", False),
    "now": ("now", True),
}
PHASE_VARIANTS = {
    "before": ("before", False, None),
    "now, REPORT_WORKERS=1": ("now", True, 1),
    f"now, REPORT_WORKERS={os.cpu_count()} (default)": ("now", True, None),
}


# --- data ------------------------------------------------------------------------------------------------


def metrics() -> dict[str, Any]:
    return {
        "ftd_revenue": Decimal("123456.50"),
        "mtd_revenue": Decimal("1234567.00"),
        "pickup_total_conv_pct": Decimal("68.82"),
        "pickup_new_conv_pct": Decimal("65.45"),
        "pickup_existing_conv_pct": Decimal("73.68"),
        "delivery_tat_pct": Decimal("12.00"),
        "delivery_undel_over_10_days": 8,
        "delivery_total_undelivered": 21,
        "repeat_total_base_pct": Decimal("41.94"),
        "package_non_pkg_over_800": 19,
        "pickup_total_count": 93,
        "delivery_total_delivered": 79,
        "pickup_new_count": 55,
        "repeat_orders": 13,
    }


def order_rows(store: str) -> list[dict[str, Any]]:
    return [
        {
            "order_id": f"{store}-T{846 + i}",
            "order_date": DAY - timedelta(days=(i * 7) % 18),
            "expected_deliver_on": DAY - timedelta(days=(i * 7) % 18) + timedelta(days=3 + i % 2),
            "net_amount": 150.5 + (i * 137) % 2400,
            "store_code": store,
            "run_id": "bench",
        }
        for i in range(ORDERS)
    ]


def lead_rows(store: str, first_id: int) -> list[Mapping[str, Any]]:
    names = ["Ramesh", "Priya Sharma", "Anil Kumar", "Sunita", "Mohammed Irfan", "Kavya Reddy"]
    slots = ["10:00 AM - 12:00 PM", "12:00 PM - 2:00 PM", "2:00 PM - 4:00 PM"]
    return [
        {
            "pickup_row_id": first_id + i,
            "pickup_no": f"{store}-P{1000 + i}",
            "mobile_number": f"98{i:08d}",
            "customer_name": names[i % len(names)],
            "pickup_created_date": DAY - timedelta(days=i % 9),
            "pickup_created_time": f"{9 + i % 10:02d}:{i % 60:02d}:29",
            "pickup_date": DAY - timedelta(days=i % 9) + timedelta(days=1),
            "pickup_time": slots[i % len(slots)],
            "source": ["Customer App", "Super Admin", "WhatsApp"][i % 3],
            "customer_type": "Existing" if i < LEADS // 3 else "New",
            "store_code": store,
            "is_order_placed": False,
            "run_id": "bench",
        }
        for i in range(LEADS)
    ]


def single_context() -> Any:
    """The daily report context of one benchmark store, built with the classes of the tree imported."""
    from crm_core.dashboard import METRIC_NAMES
    from crm_core.reports.actions import build_missed_leads, build_undelivered
    from crm_core.reports.daily.data import DailyReportContext

    values = metrics()
    orders = build_undelivered(
        [{**r, "net_amount": Decimal(str(r["net_amount"]))} for r in order_rows("A817")], DAY
    )
    return DailyReportContext(
        store_code="A817",
        store_name="Kirti Nagar Delhi",
        report_date=DAY,
        run_id="0b6a4f0e-5a7c-4d4e-9a51-3f3c2c1d9e77",
        generated_at=datetime(2025, 11, 18, 2, 5, tzinfo=UTC),
        current={name: values.get(name) for name in METRIC_NAMES},
        previous=None,
        previous_date=None,
        leads_today=3,
        leads_previous=5,
        undelivered_snapshot_count=0,
        undelivered_orders=tuple(orders),
        missed_leads=tuple(build_missed_leads(lead_rows("A817", 1))),
    )


async def seed(url: str, stores: list[str]) -> None:
    from crm_core.db import migrate
    from crm_core.db.engine import make_engine, session_factory
    from crm_core.db.models import INGEST_TABLES, StoreMaster, store_dashboard_summary
    from crm_core.db.stores import add_store

    engine = make_engine(url)
    await migrate.upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        for code in stores:
            await add_store(session, code, name=f"Bench store {code}", etl=True, report=True)
    async with session_factory(engine)() as session, session.begin():
        ids = {r.store_code: r.id for r in (await session.execute(StoreMaster.__table__.select())).all()}
        for index, code in enumerate(stores):
            for day, counts in ((DAY - timedelta(days=1), -3), (DAY, 0)):
                values = {k: (v + counts if isinstance(v, int) else v) for k, v in metrics().items()}
                await session.execute(
                    store_dashboard_summary.insert().values(
                        store_id=ids[code],
                        dashboard_date=day,
                        run_date_time=datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC),
                        run_id="bench",
                        **values,
                    )
                )
            await session.execute(INGEST_TABLES["undelivered_all"].insert(), order_rows(code))
            await session.execute(INGEST_TABLES["missed_leads"].insert(), lead_rows(code, 1 + index * LEADS))
    await engine.dispose()


# --- the measured processes ------------------------------------------------------------------------------


def child_single(renders: int, out_dir: Path) -> dict[str, Any]:
    from crm_core.reports.daily.layout import render_daily_pdf

    context = single_context()
    path = out_dir / "single.pdf"
    render_daily_pdf(context, path)  # warm-up: fonts parsed, modules imported
    seconds, cpu = [], []
    for _ in range(renders):
        start, start_cpu = time.perf_counter(), time.process_time()
        render_daily_pdf(context, path)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    from pypdf import PdfReader

    pages = len(PdfReader(path).pages)
    return {"seconds": seconds, "cpu": cpu, "pages": pages, "bytes": path.stat().st_size}


def child_phase(url: str, stores: list[str], out_dir: Path) -> dict[str, Any]:
    from crm_core.db.engine import make_engine
    from crm_core.json_logger import EventLogger
    from crm_core.reports.daily import render_store_reports
    from crm_core.settings import Settings

    async def run() -> dict[str, Any]:
        settings = Settings(_env_file=None, crm_home=out_dir, database_url=url)
        engine = make_engine(url)
        logger = EventLogger("bench-pdf", "dashboard_daily", stream=None)
        start = time.perf_counter()
        result = await render_store_reports(engine, settings, stores, DAY, f"bench-{uuid.uuid4()}", logger)
        wall = time.perf_counter() - start
        await engine.dispose()
        return {"seconds": [wall], "ok": len(result.having("ok")), "detail": result.detail}

    return asyncio.run(run())


def measure(
    tree: Path, accelerator: bool, mode: str, workers: int | None, **arguments: Any
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "REPORT_WORKERS"}
    env["PYTHONPATH"] = str(tree)  # the tree's crm_core ahead of the installed one
    if workers is not None:
        env["REPORT_WORKERS"] = str(workers)
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            __file__,
            "--child",
            json.dumps({"mode": mode, "accelerator": accelerator, "out": out, **arguments}),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(spec: dict[str, Any]) -> None:
    if not spec["accelerator"]:
        sys.modules["_rl_accel"] = None  # type: ignore[assignment]  # reportlab falls back to Python
    tree = os.environ["PYTHONPATH"]
    import crm_core

    assert str(Path(crm_core.__file__).resolve()).startswith(str(Path(tree).resolve())), crm_core.__file__
    from reportlab.lib import rl_accel

    assert (rl_accel.fp_str.__module__ == "_rl_accel") == spec["accelerator"]
    out = Path(spec["out"])
    if spec["mode"] == "write":
        from crm_core.reports.daily.layout import render_daily_pdf

        render_daily_pdf(single_context(), Path(spec["path"]))
        result: dict[str, Any] = {}
    elif spec["mode"] == "single":
        result = child_single(spec["renders"], out)
    else:
        result = child_phase(spec["url"], spec["stores"], out)
    print(json.dumps(result))


# --- the run ---------------------------------------------------------------------------------------------


def before_tree(directory: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BEFORE, "crm_core"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def compare_pages(trees: dict[str, Path], work: Path) -> str:
    """Both versions' PDF of the benchmark store as 60 dpi page images (pdftoppm), pixel by pixel."""
    from PIL import Image, ImageChops

    images: dict[str, list[Path]] = {}
    for name, tree in trees.items():
        pdf = work / f"{name}.pdf"
        measure(tree, name == "now", "write", None, path=str(pdf))
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(work / name)], check=True)
        images[name] = sorted(work.glob(f"{name}-*.png"))
    if len(images["before"]) != len(images["now"]):
        return f"page images: {len(images['before'])} pages before, {len(images['now'])} now"
    differing = []
    for before, now in zip(images["before"], images["now"], strict=True):
        with Image.open(before) as a, Image.open(now) as b:
            diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
            differing.append(sum(1 for pixel in diff.get_flattened_data() if pixel != (0, 0, 0)))
    size = Image.open(images["now"][0]).size
    return (
        f"Page images (pdftoppm -r 60, {size[0]}×{size[1]}): {len(differing)} pages each, "
        f"{sum(1 for d in differing if d == 0)} identical, differing pixels per page {differing}."
    )


def table(title: str, unit: str, scale: float, results: dict[str, list[float]], note: str = "") -> str:
    base = statistics.median(results["before"])
    lines = [f"{title}\n", f"| variant | median {unit} | runs | vs before |", "| --- | ---: | ---: | ---: |"]
    for name, values in results.items():
        median = statistics.median(values)
        lines.append(
            f"| {name} | {median * scale:.{0 if scale > 1 else 2}f} | {len(values)} | {median / base:.2f}× |"
        )
    return "\n".join(lines) + (f"\n\n{note}" if note else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renders", type=int, default=10, help="PDFs timed per process (after a warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per variant, alternated")
    parser.add_argument("--stores", type=int, default=30)
    parser.add_argument("--phase-rounds", type=int, default=2, help="0: only the single-PDF comparison")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": before_tree(Path(tmp)), "now": ROOT}
        single: dict[str, list[float]] = {name: [] for name in SINGLE_VARIANTS}
        single_cpu: dict[str, list[float]] = {name: [] for name in SINGLE_VARIANTS}
        shape = ""
        for round_ in range(args.rounds):
            for name, (tree, accelerator) in SINGLE_VARIANTS.items():
                print(f"one PDF, round {round_ + 1}: {name} …", file=sys.stderr, flush=True)
                result = measure(trees[tree], accelerator, "single", None, renders=args.renders)
                single[name] += result["seconds"]
                single_cpu[name] += result["cpu"]
                shape = f"{result['pages']} pages, {result['bytes']:,} bytes ({name})"
        print(table("One daily store PDF, one process: wall time", "ms", 1000, single, f"The PDF: {shape}."))
        cpu_note = (
            "CPU time of the rendering process (one core): what one render costs that core, and far less "
            "than the wall time moved by other work sharing the machine."
        )
        print("\n" + table("One daily store PDF, one process: CPU time", "ms", 1000, single_cpu, cpu_note))
        print("\n" + compare_pages(trees, Path(tmp)))
        if args.phase_rounds < 1:
            return

        database = f"crm_bench_pdf_{uuid.uuid4().hex[:8]}"
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
        stores = [f"B{100 + i}" for i in range(args.stores)]
        asyncio.run(_admin(f'CREATE DATABASE "{database}"'))
        try:
            asyncio.run(seed(url, stores))
            phase: dict[str, list[float]] = {name: [] for name in PHASE_VARIANTS}
            for round_ in range(args.phase_rounds):
                for name, (tree, accelerator, workers) in PHASE_VARIANTS.items():
                    print(f"PDF phase, round {round_ + 1}: {name} …", file=sys.stderr, flush=True)
                    result = measure(trees[tree], accelerator, "phase", workers, url=url, stores=stores)
                    if result["ok"] != len(stores):
                        raise SystemExit(f"{name}: {result['detail']}")
                    phase[name] += result["seconds"]
        finally:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        print()
        print(
            table(
                f"PDF phase of a daily run, {args.stores} stores, PostgreSQL, {os.cpu_count()} cores",
                "s",
                1,
                phase,
            )
        )


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
