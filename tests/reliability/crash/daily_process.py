"""`crm run daily` as a real child process (its own process group, so SIGKILL takes Chromium with it)
against the portal simulator, PostgreSQL and aiosmtpd, and what a finished day must look like afterwards."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select, text

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import INGEST_TABLES
from crm_core.demo import seed_demo
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxServer
from tests.conftest import RecordingHandler, _admin, free_port, pg_url_for

DAY = date(2025, 11, 19)
BUCKETS = ("missed_leads", "undelivered_all", "repeat_customers")
CRM = str(Path(sys.executable).with_name("crm"))
OWN_VARIABLES = ("CRM_", "DATABASE_URL", "PORTAL_", "SMTP_", "CHROMIUM_PATH", "JSON_LOG_FILE", "PREFECT_API")
# A store report per report store (A668, A817) and the run summary.
EXPECTED_EMAILS = 3
PDFS = ["A668_2025-11-19.pdf", "A817_2025-11-19.pdf"]


def daily_settings(home: Path, pg_url: str, sim: SandboxServer, smtp_port: int) -> dict[str, str]:
    """The product's settings for a daily run of DAY against the simulator."""
    return {
        "CRM_HOME": str(home),
        "CRM_TODAY": (DAY + timedelta(days=1)).isoformat(),  # the simulator's portal is frozen at DAY
        "DATABASE_URL": pg_url,
        "PORTAL_BASE_URL": sim.portal_origin,
        "PORTAL_TMS_URL": sim.tms_origin,
        "PORTAL_USERNAME": DEMO_USERNAME,
        "PORTAL_PASSWORD": DEMO_PASSWORD,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "TSV Reports <reports@example.com>",
        "JSON_LOG_FILE": str(home / "events.ndjson"),
    }


def daily_env(home: Path, pg_url: str, sim: SandboxServer, smtp_port: int, api_url: str) -> dict[str, str]:
    """This environment without the developer's settings, plus the daily run's and the Prefect server."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
    return base | daily_settings(home, pg_url, sim, smtp_port) | {"PREFECT_API_URL": api_url}


def start(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    """A `crm` command in a new session (process group) of its own, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [CRM, *args], env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def run_daily(env: dict[str, str], log: Path, timeout: float = 400) -> tuple[int, str]:
    process = start(env, "run", "daily", "--date", DAY.isoformat(), log=log)
    code = process.wait(timeout=timeout)
    return code, log.read_text(errors="replace")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command and everything it started (Chromium, its helpers)."""
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def admin_dsn(pg_url: str) -> str:
    return pg_url.replace("postgresql+asyncpg://", "postgresql://")


async def wait_for_lock_waiters(
    pg_url: str, processes: list[subprocess.Popen[bytes]], waiters: int = 1, wait_s: float = 300
) -> list[str]:
    """The statements `waiters` backends of the run's database are blocked on by a lock the test holds
    (`processes`: the commands that must not end before that)."""
    database = pg_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + wait_s
    conn = await asyncpg.connect(admin_dsn(pg_url).rsplit("/", 1)[0] + "/postgres")
    try:
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"a command ended ({process.returncode}) before it reached the lock")
            queries = await conn.fetch(
                "SELECT query FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()",
                database,
            )
            if len(queries) >= waiters:
                return [str(row["query"]) for row in queries]
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise AssertionError(f"fewer than {waiters} statements waited on the lock within {wait_s}s")


async def hold_table_lock(pg_url: str, table: str) -> asyncpg.Connection:
    """An open transaction holding `table` exclusively: a run reaching it blocks right there (release:
    ROLLBACK and close)."""
    conn = await asyncpg.connect(admin_dsn(pg_url))
    await conn.execute("BEGIN")
    await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return conn


async def release(lock: asyncpg.Connection) -> None:
    await lock.execute("ROLLBACK")
    await lock.close()


SKIPPED_COLUMNS = {"run_id", "created_at", "updated_at", "id", "run_date_time"}


async def bucket_rows(pg_url: str, bucket: str) -> list[tuple[Any, ...]]:
    """A bucket's rows without run ids and timestamps (which differ run to run), in key order."""
    table = INGEST_TABLES[bucket]
    business = [c for c in table.columns if c.name not in SKIPPED_COLUMNS]
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(*business).order_by(*table.primary_key))
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


async def day_contents(pg_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the day's data leaves, without run ids and timestamps (which differ run to run)."""
    contents = {bucket: await bucket_rows(pg_url, bucket) for bucket in BUCKETS}
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            figures = await conn.execute(
                text(
                    "SELECT m.store_code, s.* FROM store_dashboard_summary s "
                    "JOIN store_master m ON m.id = s.store_id ORDER BY m.store_code, s.dashboard_date"
                )
            )
            contents["store_dashboard_summary"] = [
                tuple(v for k, v in row.items() if k not in SKIPPED_COLUMNS) for row in figures.mappings()
            ]
    finally:
        await engine.dispose()
    return contents


async def documents_match_files(pg_url: str, home: Path) -> list[str]:
    """Every ok `documents` row points at a complete PDF, every PDF on disk has a row, no temp file is
    left beside them; returns the store codes with a PDF. A rerun renders a store's report of the date to
    the same path: the file is the one the newest row of that path describes."""
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT reference_id_3, file_path, file_size_bytes FROM documents "
                        "WHERE status = 'ok' ORDER BY id"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return await asyncio.to_thread(_files_match, [tuple(r) for r in rows], home)


def _files_match(rows: list[tuple[Any, ...]], home: Path) -> list[str]:
    newest = {Path(file_path): (store, size) for store, file_path, size in rows}
    for path, (store, size) in newest.items():
        assert path.is_file(), f"documents row of {store} points at a missing file {path}"
        assert path.stat().st_size == size, f"{path} is not the file its newest documents row describes"
        assert len(PdfReader(io.BytesIO(path.read_bytes())).pages) >= 1
    on_disk = set((home / "reports").rglob("*.pdf"))
    assert on_disk == set(newest), f"PDFs without documents rows: {sorted(on_disk - set(newest))}"
    hidden = [p for p in (home / "reports").rglob(".*") if p.is_file()]
    assert not hidden, f"a partial PDF was left behind: {hidden}"
    return sorted({store for store, _path, _size in rows})


def received_once(handler: RecordingHandler) -> list[str]:
    """The subjects received; fails when any email arrived twice."""
    subjects = [str(m["message"]["Subject"]) for m in handler.messages]  # type: ignore[index]
    twice = [s for s, n in Counter(subjects).items() if n > 1]
    assert not twice, f"sent twice: {twice}"
    return subjects


def pdf_attachments(handler: RecordingHandler) -> list[str]:
    names = []
    for entry in handler.messages:
        message = entry["message"]
        assert isinstance(message, EmailMessage)
        names += [p.get_filename() or "" for p in message.iter_attachments()]
    return sorted(names)


class GatedHandler(RecordingHandler):
    """Holds the `hold`-th message (1-based) at the end of DATA, before the server answers, until the
    test decides: `release(accept=False)` answers 451 and keeps nothing (the server had not taken it)."""

    def __init__(self, hold: int | None = None) -> None:
        super().__init__()
        self.hold = hold
        self.seen = 0
        self.holding = threading.Event()
        self._released = threading.Event()
        self._accept = True

    def release(self, *, accept: bool) -> None:
        self._accept = accept
        self._released.set()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.seen += 1
        if self.seen == self.hold:
            self.holding.set()
            await asyncio.to_thread(self._released.wait)
            if not self._accept:
                return "451 4.3.0 not accepted, try again later"
        return await super().handle_DATA(server, session, envelope)


@asynccontextmanager
async def seeded_database(template: str) -> AsyncIterator[str]:
    """A fresh migrated database with the demo stores and recipients (A668, A817 report; A526 ETL)."""
    name = f"crm_kill_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = pg_url_for(name)
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await seed_demo(session)
        await engine.dispose()
        yield url
    finally:
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def smtp(handler: GatedHandler) -> AsyncIterator[int]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        handler.release(accept=True)  # a held message must not keep the server's loop busy
        controller.stop()
