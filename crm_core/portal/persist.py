"""Persisting scraped dashboard figures on PostgreSQL and SQLite alike.

- `store_dashboard_summary`: one row per (store, dashboard_date); a re-run overwrites every metric (NULLs
  included) via the dialect's INSERT … ON CONFLICT DO UPDATE.
- `store_master`: identity fields (name, GSTIN, launch date) only fill fields that are empty, so manual
  clean-ups survive; unknown stores are inserted (active, not flagged for ETL or reports).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.dashboard import METRIC_NAMES
from crm_core.db.engine import session_factory
from crm_core.db.models import StoreMaster, store_dashboard_summary
from crm_core.json_logger import describe_exception
from crm_core.portal.dashboard_parser import DashboardFigures


async def fill_store_identity(session: AsyncSession, figures: DashboardFigures) -> StoreMaster:
    """The store's row, created if new; only empty identity fields take the scraped values."""
    code = figures.store_code.strip().upper()
    store = (
        await session.execute(select(StoreMaster).where(StoreMaster.store_code == code))
    ).scalar_one_or_none()
    if store is None:
        store = StoreMaster(
            store_code=code,
            store_name=figures.store_name,
            gstin=figures.gstin,
            launch_date=figures.launch_date,
            is_active=True,
        )
        session.add(store)
        await session.flush()
        return store
    changed = False
    for attr in ("store_name", "gstin", "launch_date"):
        new = getattr(figures, attr)
        if new is not None and getattr(store, attr) in (None, ""):
            setattr(store, attr, new)
            changed = True
    if changed:
        store.updated_at = datetime.now(UTC)
    return store


async def upsert_summary(
    session: AsyncSession, store_id: int, figures: DashboardFigures, run_id: str | None
) -> None:
    if figures.dashboard_date is None:
        raise ValueError(f"store {figures.store_code}: dashboard date unknown; summary not stored")
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "store_id": store_id,
        "dashboard_date": figures.dashboard_date,
        "run_date_time": now,
        "run_id": run_id,
        **{name: figures.metrics.get(name) for name in METRIC_NAMES},
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(store_dashboard_summary).values(**values, created_at=now, updated_at=now)
    update = {name: stmt.excluded[name] for name in (*METRIC_NAMES, "run_date_time", "run_id", "updated_at")}
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["store_id", "dashboard_date"], set_=update)
    )


async def store_dashboard_figures(
    engine: AsyncEngine, figures: list[DashboardFigures], run_id: str | None = None
) -> dict[str, str]:
    """Store every figure set in its own transaction; returns {store: problem} for the ones not stored."""
    problems: dict[str, str] = {}
    factory = session_factory(engine)
    for item in figures:
        try:
            async with factory() as session, session.begin():
                store = await fill_store_identity(session, item)
                await upsert_summary(session, store.id, item, run_id)
        except ValueError as exc:
            problems[item.store_code] = str(exc)
        except DBAPIError as exc:  # one store's row refused by the database must not lose the others
            if exc.connection_invalidated:
                raise  # the database is gone: the task's transient retry applies
            reason = describe_exception(exc.orig or exc).splitlines()[0]
            problems[item.store_code] = f"database refused the figures: {reason}"
    return problems
