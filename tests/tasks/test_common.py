"""The database check at flow start: a database that does not answer is transient, so it is retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.schemas.objects import State

from crm_core.db.engine import make_engine
from crm_core.errors import TransientError, is_transient
from tasks.common import check_database, retry_transient_only
from tests.conftest import free_port


async def test_unreachable_database_is_a_transient_error_the_task_retries(tmp_path: Path) -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm")
    try:
        with pytest.raises(TransientError, match="is unreachable") as caught:
            await check_database.fn(engine, "postgresql+asyncpg://postgres@127.0.0.1/crm")
    finally:
        await engine.dispose()
    assert is_transient(caught.value)
    failed: State[None] = State(type="FAILED", data=caught.value)
    assert retry_transient_only(check_database, None, failed)
    assert check_database.retries == 3 and check_database.retry_condition_fn is retry_transient_only


@pytest.mark.postgres
async def test_reachable_database_passes(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        await check_database.fn(engine, "db")
    finally:
        await engine.dispose()
