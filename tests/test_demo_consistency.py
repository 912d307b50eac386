"""Every dashboard row the demo seeds is possible: nothing counts more than what it is part of, and no
percentage goes over 100; an impossible percentage from the source prints as N/A, not as "111%"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import store_dashboard_summary
from crm_core.demo import seed_dashboard_history, seed_demo
from crm_core.reports.kpis import evaluate_kpi, summarise_kpi

PCTS = ("pickup_total_conv_pct", "pickup_new_conv_pct", "pickup_existing_conv_pct", "delivery_tat_pct")


async def test_every_seeded_history_row_is_consistent(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
        added = await seed_dashboard_history(session, date(2026, 12, 1), days=120)
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(store_dashboard_summary))).mappings().all()
    assert len(rows) == added and added >= 120
    for row in rows:
        where = (row["store_id"], row["dashboard_date"])
        assert row["delivery_within_tat_count"] <= row["delivery_total_delivered"], where
        assert row["delivery_total_delivered"] <= row["delivery_total_orders"], where
        assert row["pickup_new_conv_count"] <= row["pickup_new_count"], where
        assert row["pickup_existing_conv_count"] <= row["pickup_existing_count"], where
        assert row["pickup_total_conv_count"] <= row["pickup_total_count"], where
        assert 0 <= row["delivery_undel_over_10_days"] <= row["delivery_total_undelivered"], where
        assert (
            row["delivery_total_undelivered"]
            == row["delivery_total_orders"] - row["delivery_total_delivered"]
        )
        for name in PCTS:
            assert 0 <= row[name] <= 100, (name, where)


def test_a_percentage_over_100_prints_as_missing() -> None:
    over = evaluate_kpi("delivery_tat_pct", Decimal("111.11"))
    assert (over.value, over.display, over.band.label) == (None, "N/A", "No Data")
    assert evaluate_kpi("delivery_tat_pct", Decimal("100")).display == "100%"
    assert evaluate_kpi("undelivered_total_count", 140).display == "140"  # counts have no ceiling
    period = summarise_kpi(
        "delivery_tat_pct", {date(2026, 11, 1): Decimal("111"), date(2026, 11, 2): Decimal("90")}
    )
    assert period.result.value == Decimal("90") and period.days_with_data == 1
