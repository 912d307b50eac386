"""What every command-line run checks before Prefect starts (the flow checks it again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import open_engine
from crm_core.db.migrate import require_head
from crm_core.settings import Settings


@asynccontextmanager
async def run_database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The run's database, reachable and at the code's schema (`ConfigError` otherwise), with the secrets
    of Prefect blocks when the settings name any."""
    if settings.crm_db_block or settings.crm_smtp_block or settings.crm_portal_block:
        from crm_core.blocks import resolve_block_secrets  # Prefect: only when blocks are named

        settings = await resolve_block_secrets(settings)
    async with open_engine(settings) as engine:
        await require_head(engine)
        yield engine
