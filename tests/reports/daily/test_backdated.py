"""A back-dated daily report shows the backlog and the open leads as they stood on its own date."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import INGEST_TABLES
from crm_core.reports.daily.data import load_daily_context
from crm_core.reports.daily.layout import undelivered_caption

T = date(2026, 11, 28)
D = timedelta(days=1)


async def test_backdated_report_leaves_out_later_rows(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    async with engine.begin() as conn:
        a817 = await seed.store(conn, "A817", "Kirti Nagar Delhi")
        await seed.summary(conn, a817, T, delivery_total_undelivered=2)
        lead, order = seed.lead, seed.order
        await conn.execute(
            INGEST_TABLES["missed_leads"].insert(),
            [
                lead("A817", "OLD", pickup_date=T, pickup_created_date=T - D),
                lead("A817", "SAMEDAY", pickup_date=T, pickup_created_date=T),
                lead("A817", "LATER", pickup_date=T + 3 * D, pickup_created_date=T + 3 * D),
            ],
        )
        await conn.execute(
            INGEST_TABLES["undelivered_all"].insert(),
            [
                order("A817", "O1", order_date=T - 2 * D, expected_deliver_on=T + D, net_amount=10.0),
                order("A817", "O2", order_date=T, expected_deliver_on=T + 2 * D, net_amount=20.0),
                # Placed after T: not on T's list.
                order("A817", "O3", order_date=T + D, expected_deliver_on=T + 4 * D, net_amount=30.0),
                order("A817", "O4", order_date=T + 3 * D, expected_deliver_on=T + 6 * D, net_amount=40.0),
                # Delivered after T: still pending on T.
                order(
                    "A817",
                    "O5",
                    order_date=T - 5 * D,
                    expected_deliver_on=T - 2 * D,
                    net_amount=50.0,
                    actual_deliver_on=T + 2 * D,
                ),
                # Delivered by T: not pending.
                order("A817", "O6", order_date=T - 5 * D, net_amount=60.0, actual_deliver_on=T),
            ],
        )
    async with session_factory(engine)() as session:
        ctx = await load_daily_context(session, "A817", T, "r")
    assert ctx is not None
    assert sorted(o.order_id for o in ctx.undelivered_orders) == ["O1", "O2", "O5"]
    assert all(o.order_date is None or o.order_date <= T for o in ctx.undelivered_orders)
    assert sorted(lead.pickup_no for lead in ctx.missed_leads) == ["OLD", "SAMEDAY"]
    caption = undelivered_caption(ctx)
    assert "as it stood on" in caption and '"Total undelivered orders" (2)' in caption
