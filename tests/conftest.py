"""Shared fixtures: real PostgreSQL (a fresh database per test, cloned from a migrated template) and
real SQLite files, plus settings rooted in a temporary CRM_HOME."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import hypothesis
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db import migrate
from crm_core.db.engine import make_engine
from crm_core.settings import Settings

PG_HOST = os.environ.get("CRM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CRM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CRM_TEST_PG_USER", "postgres")
PG_ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"

# Settings must not pick up the developer's .env or environment during tests.
for _name in list(os.environ):
    if _name.startswith(("PORTAL_", "SMTP_", "CRM_", "DATABASE_URL", "JSON_LOG_FILE", "INGEST_")) and not (
        _name.startswith("CRM_TEST_")
    ):
        os.environ.pop(_name)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

# Property-based tests: modest example counts by default ("ci"), so each file runs in well under a minute on
# a shared machine; HYPOTHESIS_PROFILE=deep searches harder. No deadline: a shared machine's timing varies.
_SLOW_OK = [hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.function_scoped_fixture]
# derandomize: CI explores the same examples every run, so a failure there is reproducible, never flaky.
hypothesis.settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=_SLOW_OK, derandomize=True
)
hypothesis.settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=_SLOW_OK)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n` (pytest-xdist, `--dist loadgroup`), the tests that run a Prefect server with
    workers of their own go to one worker process, one after another: two such stacks at once on a small
    machine starve each other's timeouts. Everything else is shared out freely."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect-stack"))


def pg_url_for(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrated_engine(url: str) -> AsyncEngine:
    engine = make_engine(url)
    await migrate.upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated to head once per test session; each test clones it (fast)."""
    name = f"crm_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def _create() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        engine = await migrated_engine(pg_url_for(name))
        await engine.dispose()

    asyncio.run(_create())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg_url(pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    name = f"crm_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url_for(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated SQLite file for one test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    engine = await migrated_engine(url)
    await engine.dispose()
    yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Both dialects: every test using it runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(_env_file=None, crm_home=tmp_path / "home", database_url=db_url)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole test session (starting one costs ~12 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


class RecordingHandler:
    """aiosmtpd handler that keeps every message it accepts (envelope + parsed content)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        import email
        from email import policy

        content = envelope.content  # type: ignore[attr-defined]
        parsed = email.message_from_bytes(content, policy=policy.default)
        self.messages.append(
            {
                "mail_from": envelope.mail_from,  # type: ignore[attr-defined]
                "rcpt_tos": list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                "message": parsed,
            }
        )
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, RecordingHandler]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (port, handler with the received messages)."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler
    controller.stop()
