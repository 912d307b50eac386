"""`crm sandbox serve`: prints both origins and the token its control endpoints require; `--host` makes
it listen on that name and link with it, so other machines (the worker's container, reaching the
simulator's container by its service name) can follow its links."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CRM = str(Path(sys.executable).with_name("crm"))


@contextmanager
def serve(*args: str) -> Iterator[str]:
    """The simulator's start-up output, up to the line with its control token."""
    process = subprocess.Popen(
        [CRM, "sandbox", "serve", "--port", "0", "--tms-port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("X-Sandbox-Token" in line for line in lines):
            lines.append(process.stdout.readline())
        yield "".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=10)


def get_when_listening(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:  # the server starts listening just after printing
        try:
            return httpx.get(url, headers=headers)
        except httpx.ConnectError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_serve_prints_the_control_token_and_the_endpoints_require_it() -> None:
    with serve() as output:
        portal = re.search(r"^portal\s+(http://127\.0\.0\.1:\d+)", output, re.M)
        token = re.search(r"X-Sandbox-Token: ([\w-]+)", output)
        assert portal and token, output
        state = portal.group(1) + "/__sandbox/state"
        assert get_when_listening(state).status_code == 403
        assert httpx.get(state, headers={"X-Sandbox-Token": token.group(1)}).status_code == 200


def test_serve_listens_on_the_named_host_and_links_with_it() -> None:
    with serve("--host", "localhost") as output:
        portal = re.search(r"^portal\s+(http://localhost:\d+)", output, re.M)
        tms = re.search(r"^TMS\s+(http://localhost:\d+)", output, re.M)
        token = re.search(r"X-Sandbox-Token: ([\w-]+)", output)
        assert portal and tms and token, output
        response = get_when_listening(
            portal.group(1) + "/__sandbox/state", headers={"X-Sandbox-Token": token.group(1)}
        )
        assert response.status_code == 200
        state = response.json()
        assert state["portal"] == portal.group(1) and state["tms"] == tms.group(1)
