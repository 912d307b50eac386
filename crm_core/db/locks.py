"""Work that must not run twice at once takes turns on a named lock.

On PostgreSQL the lock is a session advisory lock, so it holds across processes (the CLI and a deployment's
worker) and is released by the server when its holder dies, even by SIGKILL. SQLite, the embedded
single-process mode, takes turns on an in-process lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

# asyncio locks belong to one event loop; each `asyncio.run` (CLI, tests) gets its own set.
_local_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def take_turns(
    engine: AsyncEngine, name: str, *, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold the lock `name` for the block; `on_wait` is called once when another holder makes it wait."""
    if engine.dialect.name != "postgresql":
        lock = _local_turns.setdefault(asyncio.get_running_loop(), {}).setdefault(name, asyncio.Lock())
        if lock.locked() and on_wait is not None:
            on_wait()
        async with lock:
            yield
        return
    key = func.hashtext(name)
    async with engine.connect() as conn:
        if not (await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar_one():
            if on_wait is not None:
                on_wait()
            await conn.execute(select(func.pg_advisory_lock(key)))
        # The lock belongs to the session, not the transaction: ending it keeps no snapshot open for as
        # long as the work takes.
        await conn.commit()
        try:
            yield
        finally:
            # A connection lost meanwhile (a server restart) took the lock with it: nothing to release.
            try:
                await conn.execute(select(func.pg_advisory_unlock(key)))
                await conn.commit()
            except SQLAlchemyError:
                await conn.rollback()
