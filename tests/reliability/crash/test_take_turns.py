"""`take_turns`: a second holder of a named lock waits (and is told so) until the first is done, on
PostgreSQL across connections (as across processes) and in-process on SQLite; a holder that dies frees it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from crm_core.db.engine import make_engine
from crm_core.db.locks import take_turns
from tests.reliability.crash.daily_process import admin_dsn


async def test_the_second_holder_waits_for_the_first(db_url: str) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    order: list[str] = []
    waited: list[str] = []
    first_in = asyncio.Event()
    try:

        async def first() -> None:
            async with take_turns(engines[0], "crm-test:turns"):
                order.append("first in")
                first_in.set()
                await asyncio.sleep(0.5)
                order.append("first out")

        async def second() -> None:
            await first_in.wait()
            async with take_turns(engines[1], "crm-test:turns", on_wait=lambda: waited.append("second")):
                order.append("second in")

        await asyncio.gather(first(), second())
    finally:
        for engine in engines:
            await engine.dispose()
    assert order == ["first in", "first out", "second in"]
    assert waited == ["second"]


@pytest.mark.postgres
async def test_a_holder_killed_with_its_connection_frees_the_lock(pg_url: str) -> None:
    """SIGKILL closes the holder's connection; PostgreSQL then drops its advisory locks."""
    holder = await asyncpg.connect(admin_dsn(pg_url))
    await holder.execute("SELECT pg_advisory_lock(hashtext('crm-test:dead'))")
    engine = make_engine(pg_url)
    waiting = asyncio.Event()
    try:

        async def take() -> None:
            async with take_turns(engine, "crm-test:dead", on_wait=waiting.set):
                pass

        taking = asyncio.create_task(take())
        await asyncio.wait_for(waiting.wait(), 30)
        assert not taking.done()
        holder.terminate()  # the socket closed without a goodbye, as when the process dies
        await asyncio.wait_for(taking, 30)
    finally:
        await engine.dispose()
