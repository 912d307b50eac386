"""Programmatic Alembic: upgrade, downgrade and pending-revision checks on an async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.errors import ConfigError

# The migrations are part of the package (package data), so an installed wheel upgrades like a checkout.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise FileNotFoundError(f"migrations not found at {MIGRATIONS_DIR} (the package is incomplete)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def require_head(engine: AsyncEngine) -> None:
    """Refuse a run on a database behind (or ahead of) the code: the tables the run writes would not be
    the ones the code expects, and the failure would come late and obscure. `ConfigError` otherwise."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise ConfigError(f"database at revision {current or 'none'}, code at {head}: run `crm db upgrade`")


async def _run(engine: AsyncEngine, action: object) -> None:
    def _in_connection(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        action(config)  # type: ignore[operator]

    async with engine.begin() as conn:
        await conn.run_sync(_in_connection)
