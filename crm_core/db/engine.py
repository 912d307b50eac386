"""Async engine and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from crm_core.errors import TransientError, driver_code, is_transient
from crm_core.fsutil import create_private
from crm_core.json_logger import describe_exception
from crm_core.settings import ConfigError, Settings


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite files get their folder created and foreign keys switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # SQLite gives its journal and WAL files the database file's mode: create that one private.
            create_private(Path(parsed.database).expanduser())
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def engine_from_settings(settings: Settings, **kwargs: Any) -> AsyncEngine:
    return make_engine(settings.db_url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ensure_reachable(engine: AsyncEngine, redacted_url: str) -> None:
    """Fail with a one-line `ConfigError` when the database cannot be reached."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ConfigError(f"database {redacted_url} is unreachable: {describe_exception(exc)}") from None


async def ping(engine: AsyncEngine, redacted_url: str) -> None:
    """Like `ensure_reachable`, for runs that retry: a database that does not answer (down, restarting,
    network) raises `TransientError`; anything else (bad password, no such database) `ConfigError`."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        error = TransientError if is_transient(exc) else ConfigError
        raise error(f"database {redacted_url} is unreachable: {describe_exception(exc)}") from None


def is_missing_table(exc: BaseException) -> bool:
    """The database has no such table: it was never migrated (or is older than the code)."""
    if driver_code(exc) == "42P01":  # PostgreSQL: undefined_table
        return True
    return "no such table" in str(getattr(exc, "orig", None) or exc)  # SQLite says it in words only


@asynccontextmanager
async def open_engine(settings: Settings, **kwargs: Any) -> AsyncIterator[AsyncEngine]:
    """Engine for one command or flow run, checked reachable, always disposed. A database that was never
    migrated is a one-line `ConfigError` naming the fix, not the driver's error."""
    engine = engine_from_settings(settings, **kwargs)
    try:
        await ensure_reachable(engine, settings.db_url_redacted)
        yield engine
    except DBAPIError as exc:
        if is_missing_table(exc):
            where = settings.db_url_redacted
            raise ConfigError(
                f"database {where} has no tables (or an older schema): run `crm db upgrade`"
            ) from None
        raise
    finally:
        await engine.dispose()


@asynccontextmanager
async def session_scope(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction on a checked engine: committed when the block ends, rolled back on an error."""
    async with open_engine(settings) as engine, session_factory(engine)() as session, session.begin():
        yield session
