"""The simulator's control endpoints answer only with the start-up token and a loopback Host header."""

from __future__ import annotations

import httpx
import pytest

from crm_core.portal.sandbox.app import CONTROL_HEADER
from crm_core.portal.sandbox.server import SandboxServer

ENDPOINTS = [
    ("GET", "/__sandbox/state", None),
    ("POST", "/__sandbox/faults", {"spec": "status=500"}),
    ("DELETE", "/__sandbox/faults", None),
    ("POST", "/__sandbox/expire?scope=all", None),
    ("POST", "/__sandbox/config", {"date": "2020-01-01"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_control_endpoints_refuse_without_the_token_or_with_another_host(
    sim: SandboxServer, method: str, path: str, body: dict[str, str] | None
) -> None:
    url = sim.portal_origin + path
    token = sim.state.control_token
    before = sim.state.snapshot()
    refused = [
        httpx.request(method, url, json=body),
        httpx.request(method, url, json=body, headers={CONTROL_HEADER: "wrong"}),
        httpx.request(method, url, json=body, headers={CONTROL_HEADER: token, "Host": "evil.example:80"}),
        httpx.request(method, url, json=body, headers={CONTROL_HEADER: "", "Host": "localhost"}),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert "Host" in refused[2].json()["error"] and CONTROL_HEADER in refused[0].json()["error"]
    assert sim.state.snapshot() == before  # nothing was switched
    allowed = httpx.request(method, url, json=body, headers={CONTROL_HEADER: token})
    assert allowed.status_code == 200, allowed.text
    also_localhost = httpx.get(
        sim.portal_origin + "/__sandbox/state", headers={CONTROL_HEADER: token, "Host": "localhost"}
    )
    assert also_localhost.status_code == 200
    sim.state.faults.clear()


def test_each_simulator_has_its_own_token() -> None:
    with SandboxServer() as one, SandboxServer() as two:
        assert len(one.state.control_token) >= 32 and one.state.control_token != two.state.control_token
        other = httpx.get(
            one.portal_origin + "/__sandbox/state", headers={CONTROL_HEADER: two.state.control_token}
        )
        assert other.status_code == 403
