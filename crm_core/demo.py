"""Demo data for `crm demo`: three simulator stores and demo recipients, added only to an empty database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import migrate
from crm_core.db.engine import open_engine, session_factory
from crm_core.db.models import NotificationRecipient, StoreMaster
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


async def prepare_demo_database(settings: Settings) -> list[str]:
    """Migrate the database to head and seed it; returns what was added (see `seed_demo`)."""
    async with open_engine(settings) as engine:
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            return await seed_demo(session)
