"""A run with two store PDFs and recipients for each profile, on the dialect of `settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine
from crm_core.settings import Settings
from tests.notify.test_notifications import seed_run


@pytest.fixture
async def seeded(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, Settings]]:
    engine = make_engine(settings.db_url)
    await seed_run(engine, settings.reports_path)
    yield engine, settings
    await engine.dispose()
