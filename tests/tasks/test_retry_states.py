"""A task retry shown as it happens: a real failure, the retry Prefect schedules, then success.

The fault is real: the database's first connection is dropped by a TCP relay in front of PostgreSQL
(as a restarting server or a flaky network does); every later connection goes through. The test reads
the task run's state history back from the Prefect server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from crm_core.db.engine import make_engine
from tasks.common import check_database
from tests.conftest import PG_HOST, PG_PORT, PG_USER

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.postgres]


class DropFirstConnection:
    """Listens on a free local port; closes the first `drop` connections at once, relays the rest."""

    def __init__(self, drop: int = 1) -> None:
        self.drop = drop
        self.accepted = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            if self.accepted <= self.drop:
                client.close()
                continue
            upstream = socket.create_connection((PG_HOST, PG_PORT))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def flaky_database() -> Iterator[DropFirstConnection]:
    relay = DropFirstConnection()
    yield relay
    relay.close()


@flow
async def check_flow(url: str) -> UUID:
    engine = make_engine(url)
    try:
        # A delay (however short) makes Prefect schedule the retry (AwaitingRetry) rather than rerun in place.
        state = await check_database.with_options(retry_delay_seconds=1)(  # type: ignore[misc]
            engine, "postgresql://…/postgres", return_state=True
        )
        await state.aresult()
        task_run_id = state.state_details.task_run_id
        assert task_run_id is not None
        return task_run_id
    finally:
        await engine.dispose()


async def state_names(task_run_id: UUID) -> list[str]:
    """The task run's states in order, once the server has recorded the final one (task run states reach
    the server as events, a little after the task ended)."""
    async with get_client() as client:
        for _ in range(300):
            states = sorted(await client.read_task_run_states(task_run_id), key=lambda s: s.timestamp)
            if states and states[-1].is_final():
                return [s.name for s in states]
            await asyncio.sleep(0.1)
    raise AssertionError(f"task run {task_run_id} never reached a final state on the server")


async def test_a_dropped_database_connection_is_retried_then_the_task_completes(
    flaky_database: DropFirstConnection,
) -> None:
    url = f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{flaky_database.port}/postgres"
    task_run_id = await check_flow(url)
    names = await state_names(task_run_id)
    assert flaky_database.accepted == 2  # the dropped connection, then the retry's
    # Failed attempt → AwaitingRetry (scheduled again) → Retrying (the second run) → Completed.
    assert names[-3:] == ["AwaitingRetry", "Retrying", "Completed"], names
    assert names.count("Running") == 1


async def test_without_the_fault_the_task_completes_first_time(pg_url: str) -> None:
    """The same flow on a healthy database: no retry state, so the one above is the fault's doing."""
    task_run_id = await check_flow(pg_url)
    names = await state_names(task_run_id)
    assert "AwaitingRetry" not in names and "Retrying" not in names
    assert names[-1] == "Completed"
