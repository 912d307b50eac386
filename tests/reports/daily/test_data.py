"""The daily report loader on PostgreSQL and SQLite (fresh migrated databases from tests/conftest.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import INGEST_TABLES
from crm_core.reports.daily.data import load_daily_context
from crm_core.reports.kpis import snapshot_change

T = date(2025, 11, 17)
D = timedelta(days=1)


async def seed_a817(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    async with engine.begin() as conn:
        a817 = await seed.store(conn, "A817", "Kirti Nagar Delhi")
        other = await seed.store(conn, "B200", "Other Store")
        await seed.store(conn, "C300", None)  # no summary rows at all
        await seed.summary(conn, a817, T - 3 * D, pickup_total_count=70)
        # The comparison row is the latest one before T (the 16th is missing), not T-1.
        await seed.summary(
            conn, a817, T - 2 * D, pickup_total_count=90, delivery_total_delivered=80, pickup_new_count=55
        )
        await seed.summary(
            conn,
            a817,
            T,
            pickup_total_conv_pct=Decimal("68.82"),
            delivery_tat_pct=Decimal("0"),
            delivery_undel_over_10_days=8,
            ftd_revenue=Decimal("123456.50"),
            pickup_total_count=93,
            delivery_total_delivered=79,
            pickup_new_count=55,
            repeat_orders=None,
        )
        await seed.summary(conn, a817, T + D, pickup_total_count=99)  # after T: never used
        await seed.summary(conn, other, T, pickup_total_count=1)

        lead, order = seed.lead, seed.order
        await conn.execute(
            INGEST_TABLES["missed_leads"].insert(),
            [
                # Counted for T / T-1 by pickup date (placed or not); the lower-case code still matches.
                lead("A817", "P1", pickup_date=T, is_order_placed=True),
                lead("A817", "P2", pickup_date=T, is_order_placed=None),
                lead(
                    "a817",
                    "P3",
                    pickup_date=T,
                    customer_type="New",
                    pickup_created_date=T - D,
                    pickup_created_time="19:09:29",
                    pickup_time="10:00 AM - 12:00 PM",
                    customer_name="Ramesh",
                    source="WhatsApp",
                ),
                lead(
                    "A817",
                    "P4",
                    pickup_date=T - D,
                    customer_type="Existing",
                    pickup_created_date=T - 5 * D,
                    pickup_created_time="18:30:00",
                ),
                lead("A817", "P5", pickup_date=T - D, is_order_placed=True),
                lead(
                    "A817",
                    "P6",
                    pickup_date=T - 9 * D,
                    customer_type="Existing",
                    pickup_created_date=T - 5 * D,
                    pickup_created_time="09:00:00",
                ),
                lead("A817", "P7", pickup_date=None, customer_type=None, pickup_created_date=T - 20 * D),
                lead("A817", "P8", pickup_date=T + D, customer_type="New", pickup_created_date=T - 30 * D),
                lead("B200", "P1", pickup_date=T),  # another store
            ],
        )
        await conn.execute(
            INGEST_TABLES["undelivered_all"].insert(),
            [
                order(
                    "A817", "T100", order_date=T - 14 * D, expected_deliver_on=T - 11 * D, net_amount=500.5
                ),
                order("A817", "T101", order_date=T - 6 * D, expected_deliver_on=None, net_amount=None),
                order("A817", "T102", order_date=T, expected_deliver_on=T + 3 * D, net_amount=1200.0),
                order("A817", "T103", order_date=None, expected_deliver_on=None, net_amount=100.25),
                order(
                    "A817",
                    "T104",
                    order_date=T,
                    expected_deliver_on=T + 4 * D,
                    net_amount=999.0,
                    actual_deliver_on=T,
                ),  # delivered: not in the list, but in the snapshot count
                order("A817", "T105", order_date=T - 3 * D, expected_deliver_on=T, net_amount=0.0),
                order("B200", "T100", order_date=T, net_amount=5.0),
            ],
        )
        await conn.execute(
            INGEST_TABLES["repeat_customers"].insert(),
            [{"store_code": "A817", "mobile_no": f"99000000{i:02d}", "status": "Active"} for i in range(4)],
        )


async def test_loader_reads_every_source(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    await seed_a817(engine, seed)
    moment = datetime(2025, 11, 18, 2, 0, tzinfo=UTC)
    async with session_factory(engine)() as session:
        ctx = await load_daily_context(session, " a817 ", T, "run-1", generated_at=moment)
    assert ctx is not None
    assert (ctx.store_code, ctx.store_name, ctx.report_date, ctx.run_id, ctx.generated_at) == (
        "A817",
        "Kirti Nagar Delhi",
        T,
        "run-1",
        moment,
    )
    assert ctx.current["pickup_total_count"] == 93
    assert ctx.current["pickup_total_conv_pct"] == Decimal("68.82")
    assert ctx.current["delivery_tat_pct"] == Decimal("0")  # a real zero stays zero
    assert ctx.current["pickup_existing_conv_pct"] is None
    assert ctx.ftd_revenue == Decimal("123456.50")
    assert ctx.previous_date == T - 2 * D
    assert ctx.previous is not None and ctx.previous["pickup_total_count"] == 90
    assert ctx.kpi_values["undelivered_10_plus_count"] == 8

    assert (ctx.leads_today, ctx.leads_previous) == (3, 2)
    assert [lead.pickup_no for lead in ctx.missed_leads] == ["P6", "P4", "P8", "P3", "P7"]
    p3 = ctx.missed_leads[3]
    assert p3.pickup_created == "2025-11-16 19:09:29"
    assert p3.pickup_slot == "2025-11-17 10:00 AM - 12:00 PM"
    assert (p3.customer_name, p3.source) == ("Ramesh", "WhatsApp")

    orders = ctx.undelivered_orders
    assert [o.order_id for o in orders] == ["T100", "T101", "T105", "T102", "T103"]
    assert [o.age_days for o in orders] == [11, 3, 0, -3, None]
    assert orders[1].committed_date == T - 3 * D  # order date + 3 when no expected date
    assert orders[4].committed_date is None
    assert ctx.undelivered_total_net == Decimal("1800.75")
    assert ctx.undelivered_snapshot_count == 2

    snapshot = {m.label: (m.previous, m.current) for m in ctx.snapshot}
    assert snapshot == {
        "Leads captured": (2, 3),
        "Pickups (MTD)": (90, 93),
        "Deliveries (MTD)": (80, 79),
        "New customers (MTD)": (55, 55),
        "Repeat customers (MTD)": (None, 4),  # repeat_orders missing today: count of repeat_customers rows
    }
    assert not any(m.counter_restarted for m in ctx.snapshot)
    # The previous dashboard is from last month: the month-to-date counters restarted since.
    last_month = dataclasses.replace(ctx, previous_date=T.replace(day=1) - D)
    assert {m.label: m.counter_restarted for m in last_month.snapshot} == {
        "Leads captured": False,
        "Pickups (MTD)": True,
        "Deliveries (MTD)": True,
        "New customers (MTD)": True,
        "Repeat customers (MTD)": True,
    }
    pickups = snapshot_change(412, 9, counter_restarted=True)
    assert (pickups.delta, pickups.tone) == (None, "neutral") and "restarted" in pickups.note


async def test_loader_without_data(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    await seed_a817(engine, seed)
    async with session_factory(engine)() as session:
        assert await load_daily_context(session, "A817", T - D, "r") is None  # no summary for that day
        assert await load_daily_context(session, "C300", T, "r") is None
        assert await load_daily_context(session, "ZZZ9", T, "r") is None  # unknown store
        first = await load_daily_context(session, "A817", T - 3 * D, "r")
    assert first is not None
    assert first.previous is None and first.previous_date is None
    assert first.undelivered_snapshot_count == 1  # T105 was ordered that day


async def test_store_name_falls_back_to_code(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    async with engine.begin() as conn:
        store = await seed.store(conn, "C300", "  ")
        await seed.summary(conn, store, T)
    async with session_factory(engine)() as session:
        ctx = await load_daily_context(session, "C300", T, "r")
    assert ctx is not None
    assert ctx.store_name == "C300"
    assert (ctx.missed_leads, ctx.undelivered_orders, ctx.leads_today, ctx.leads_previous) == ((), (), 0, 0)
    assert ctx.repeat_customers_count is None
    assert all(v is None for v in ctx.current.values())
