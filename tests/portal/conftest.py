"""One portal simulator per test module, handed to each test with no faults and no live sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from tests.portal.simulated import DAY


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as server:
        yield server


@pytest.fixture
def sim(sim_server: SandboxServer) -> Iterator[SandboxServer]:
    sim_server.state.faults.clear()
    sim_server.state.expire("all")
    yield sim_server
    sim_server.state.faults.clear()
