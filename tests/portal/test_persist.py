"""Dashboard figures persistence on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import StoreMaster, store_dashboard_summary
from crm_core.portal.dashboard_parser import DashboardFigures
from crm_core.portal.persist import store_dashboard_figures

DAY = date(2025, 11, 19)


def figures(code: str, **metrics: object) -> DashboardFigures:
    item = DashboardFigures(code, DAY, "UTTAM NAGAR DELHI", "07ABCDE1234F1Z5", date(2021, 3, 5))
    item.metrics.update(metrics)  # type: ignore[arg-type]
    return item


async def test_upsert_overwrites_the_day_including_nulls(engine: AsyncEngine) -> None:
    assert (
        await store_dashboard_figures(
            engine, [figures("A668", mtd_revenue=Decimal("100.50"), repeat_orders=7)]
        )
        == {}
    )
    assert (
        await store_dashboard_figures(engine, [figures("A668", mtd_revenue=Decimal("200.00"))], "run-2") == {}
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(select(store_dashboard_summary))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["mtd_revenue"] == Decimal("200.00")
    assert rows[0]["repeat_orders"] is None  # re-run replaces the snapshot
    assert rows[0]["run_id"] == "run-2" and rows[0]["dashboard_date"] == DAY


async def test_identity_fills_only_empty_fields_and_inserts_new_stores(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        session.add(StoreMaster(store_code="A817", store_name="Kirti Nagar (cleaned)", etl_flag=True))
    scraped = [figures("A817"), figures("A526"), DashboardFigures("TS0")]
    problems = await store_dashboard_figures(engine, scraped)
    assert list(problems) == ["TS0"] and "dashboard date unknown" in problems["TS0"]
    async with session_factory(engine)() as session:
        stores = {s.store_code: s for s in (await session.execute(select(StoreMaster))).scalars()}
    assert stores["A817"].store_name == "Kirti Nagar (cleaned)"  # manual clean-up survives
    assert stores["A817"].gstin == "07ABCDE1234F1Z5" and stores["A817"].launch_date == date(2021, 3, 5)
    assert stores["A817"].etl_flag is True
    assert stores["A526"].store_name == "UTTAM NAGAR DELHI" and stores["A526"].is_active


@pytest.mark.postgres
async def test_one_store_refused_by_the_database_does_not_lose_the_others(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        # The parser never lets such a value through; a refused row must still stay that store's problem.
        problems = await store_dashboard_figures(
            engine,
            [figures("A668", growth_pct=Decimal("24430")), figures("A817", mtd_revenue=Decimal("5.00"))],
        )
        assert list(problems) == ["A668"] and "database refused the figures" in problems["A668"]
        async with engine.connect() as conn:
            stored = (await conn.execute(select(store_dashboard_summary.c.mtd_revenue))).scalars().all()
        assert stored == [Decimal("5.00")]
    finally:
        await engine.dispose()
