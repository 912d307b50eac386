"""Demo data for `crm demo`: three simulator stores and demo recipients, added only to an empty database,
and a few weeks of dashboard history for them, added only on days that have none."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import migrate
from crm_core.db.engine import open_engine, session_factory
from crm_core.db.models import NotificationRecipient, StoreMaster, store_dashboard_summary
from crm_core.db.stores import add_recipient, add_store
from crm_core.pipelines import PIPELINES, RUN_SUMMARY
from crm_core.settings import Settings


@dataclass(frozen=True)
class DemoStore:
    code: str
    name: str
    report: bool


DEMO_STORES = (
    DemoStore("A668", "Uttam Nagar, Delhi", report=True),
    DemoStore("A817", "Kirti Nagar, Delhi", report=True),
    DemoStore("A526", "Tilak Nagar, Delhi", report=False),
)
DEMO_OWNER = "owner@example.com"
DEMO_STORE_INBOX = "stores@example.com"
# The run id of the seeded dashboard history: how to tell it from scraped data (and delete it).
DEMO_HISTORY_RUN_ID = "demo-history"
DEMO_HISTORY_DAYS = 35  # five weeks before the report date: a few weekly periods and a monthly one


async def seed_demo(session: AsyncSession) -> list[str]:
    """Add the demo stores when there are no stores, and demo recipients when there are none.

    Returns what was added, for the operator; an operator's own stores and recipients are never touched."""
    added: list[str] = []
    if not (await session.execute(select(func.count()).select_from(StoreMaster))).scalar_one():
        for store in DEMO_STORES:
            await add_store(session, store.code, name=store.name, etl=True, report=store.report)
            added.append(f"store {store.code}" + (" (report)" if store.report else ""))
    if not (await session.execute(select(func.count()).select_from(NotificationRecipient))).scalar_one():
        await add_recipient(session, RUN_SUMMARY.code, DEMO_OWNER)
        for pipeline in PIPELINES.values():
            await add_recipient(session, pipeline.store_profile.code, DEMO_STORE_INBOX)
        added.append(f"recipients {DEMO_OWNER} (run summaries), {DEMO_STORE_INBOX} (store reports)")
    return added


def demo_history_row(store_id: int, day: date, seed: int, mtd: dict[str, int]) -> dict[str, Any]:
    """One day's figures; the pickup, delivery, repeat-order and revenue counters are month-to-date, so
    they restart on the 1st and only grow within a month."""
    rng = random.Random(seed)
    if day.day == 1:
        mtd.clear()
    # Each day's figures are drawn within what they count: conversions ≤ pickups, deliveries ≤ orders,
    # deliveries within turnaround ≤ deliveries; summed over the month the same holds for the counters.
    today: dict[str, int] = {}
    today["pickup_new_count"] = rng.randint(2, 8)
    today["pickup_existing_count"] = rng.randint(4, 12)
    today["pickup_new_conv_count"] = rng.randint(1, today["pickup_new_count"])
    today["pickup_existing_conv_count"] = rng.randint(3, today["pickup_existing_count"])
    today["delivery_total_orders"] = rng.randint(5, 14)
    today["delivery_total_delivered"] = rng.randint(4, today["delivery_total_orders"])
    today["delivery_within_tat_count"] = rng.randint(3, today["delivery_total_delivered"])
    today["repeat_orders"] = rng.randint(1, 5)
    today["mtd_revenue"] = rng.randint(3_000, 12_000)
    for name, value in today.items():
        mtd[name] = mtd.get(name, 0) + value
    pickups = mtd["pickup_new_count"] + mtd["pickup_existing_count"]
    converted = mtd["pickup_new_conv_count"] + mtd["pickup_existing_conv_count"]
    orders = mtd["delivery_total_orders"]
    undelivered = orders - mtd["delivery_total_delivered"]
    return {
        "store_id": store_id,
        "dashboard_date": day,
        "run_date_time": datetime.now(UTC),
        "run_id": DEMO_HISTORY_RUN_ID,
        **mtd,
        "pickup_total_count": pickups,
        "pickup_total_conv_count": converted,
        "pickup_total_conv_pct": round(100 * converted / pickups, 2),
        "pickup_new_conv_pct": round(100 * mtd["pickup_new_conv_count"] / mtd["pickup_new_count"], 2),
        "pickup_existing_conv_pct": round(
            100 * mtd["pickup_existing_conv_count"] / mtd["pickup_existing_count"], 2
        ),
        "delivery_tat_pct": round(100 * mtd["delivery_within_tat_count"] / orders, 2),
        "delivery_total_undelivered": undelivered,
        "delivery_undel_over_10_days": rng.randint(0, min(3, undelivered)),
        "ftd_revenue": today["mtd_revenue"],  # the day's revenue is what the month-to-date figure grew by
        "target_revenue": 250_000,
        "repeat_customer_base_6m": 400 + rng.randint(0, 40),
        "repeat_total_base_pct": round(rng.uniform(18, 35), 2),
    }


async def seed_dashboard_history(session: AsyncSession, before: date, days: int = DEMO_HISTORY_DAYS) -> int:
    """Dashboard figures of the demo stores for the `days` days before `before`, only for stores and days
    that have none (an operator's or a scraped row is never touched); marked with `DEMO_HISTORY_RUN_ID`.
    Returns the rows added."""
    codes = [s.code for s in DEMO_STORES]
    stores = (
        await session.execute(
            select(StoreMaster.id, StoreMaster.store_code).where(StoreMaster.store_code.in_(codes))
        )
    ).all()
    first = before - timedelta(days=days)
    added = 0
    for store_id, code in stores:
        taken = set(
            (
                await session.execute(
                    select(store_dashboard_summary.c.dashboard_date).where(
                        store_dashboard_summary.c.store_id == store_id,
                        store_dashboard_summary.c.dashboard_date >= first.replace(day=1),
                        store_dashboard_summary.c.dashboard_date < before,
                    )
                )
            ).scalars()
        )
        mtd: dict[str, int] = {}
        # From the 1st of the first month, so the month-to-date counters are consistent on every day.
        day = first.replace(day=1)
        while day < before:
            row = demo_history_row(store_id, day, zlib.crc32(f"{code}:{day}".encode()), mtd)
            if day >= first and day not in taken:
                await session.execute(store_dashboard_summary.insert().values(**row))
                added += 1
            day += timedelta(days=1)
    return added


async def prepare_demo_database(settings: Settings, history_before: date | None = None) -> list[str]:
    """Migrate the database to head and seed it; returns what was added (see `seed_demo`, and
    `seed_dashboard_history` when `history_before` is given)."""
    async with open_engine(settings) as engine:
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            added = await seed_demo(session)
            if history_before is not None:
                rows = await seed_dashboard_history(session, history_before)
                if rows:
                    added.append(
                        f"dashboard history: {rows} demo rows before {history_before} "
                        f"(run_id {DEMO_HISTORY_RUN_ID})"
                    )
            return added
