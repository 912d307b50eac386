"""Faults during a real daily run: the daily flow's own fixtures (simulator, seeded PostgreSQL database,
aiosmtpd, the run's environment) plus what every fault test checks afterwards."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.models import INGEST_TABLES
from tests.flows.test_daily_flow import (  # noqa: F401  (fixtures shared with the daily flow's tests)
    BUCKETS,
    DAY,
    clean_sim,
    db,
    env,
    sim,
)

__all__ = ["BUCKETS", "DAY", "rows_per_store", "stored_rows"]


async def rows_per_store(engine: AsyncEngine, bucket: str, day: date = DAY) -> dict[str, int]:
    """{store: rows stored for the day} of one bucket's table."""
    table = INGEST_TABLES[bucket].name
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT store_code, count(*) FROM {table} WHERE run_date = :d GROUP BY store_code"),
            {"d": day},
        )
        return {str(code): int(n) for code, n in rows}


async def stored_rows(engine: AsyncEngine) -> dict[str, int]:
    """Rows of every ingest table (any date): what a fault must leave whole or untouched."""
    async with engine.connect() as conn:
        return {
            bucket: int(
                (await conn.execute(text(f"SELECT count(*) FROM {INGEST_TABLES[bucket].name}"))).scalar_one()
            )
            for bucket in BUCKETS
        }


def issues(result: dict[str, Any]) -> list[str]:
    return list(result["metrics"]["issues"])
