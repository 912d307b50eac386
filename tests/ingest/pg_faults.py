"""A dropped database connection, made on a real PostgreSQL server: another session holds a row lock the
ingest will wait for, then terminates the waiting backend (what an administrator, a restart or a failover
does to a connection in the middle of a transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

WAIT_LIMIT_S = 60.0


@asynccontextmanager
async def row_locked(pg_url: str, lock_sql: str) -> AsyncIterator[asyncpg.Connection]:
    """An admin session of the test database inside a transaction holding the locks `lock_sql` takes;
    closing the session on exit rolls it back and releases them."""
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute("BEGIN")
        await admin.execute(lock_sql)
        yield admin
    finally:
        await admin.close()


async def _until(admin: asyncpg.Connection, sql: str, *args: object) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT_S
    while True:
        # Inside a transaction the statistics views keep their first snapshot: take a fresh one.
        await admin.execute("SELECT pg_stat_clear_snapshot()")
        if value := await admin.fetchval(sql, *args):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for: {sql}")
        await asyncio.sleep(0.05)


async def terminate_lock_waiter(admin: asyncpg.Connection) -> int:
    """Terminate the backend of the admin's database that waits for a lock, and wait until it is gone.

    The waiting backend is inside its transaction (it is executing a statement), so the termination drops
    the connection mid-transaction; found by database name in pg_stat_activity."""
    pid = await _until(
        admin,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' LIMIT 1",
    )
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    await _until(admin, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid)
    assert isinstance(pid, int)
    return pid
