"""`crm sandbox serve` prints the control token its control endpoints require."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_serve_prints_the_control_token_and_the_endpoints_require_it() -> None:
    crm = str(Path(sys.executable).with_name("crm"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [crm, "sandbox", "serve", "--port", "0", "--tms-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("X-Sandbox-Token" in line for line in lines):
            lines.append(proc.stdout.readline())
        output = "".join(lines)
        portal = re.search(r"^portal\s+(http://127\.0\.0\.1:\d+)", output, re.M)
        token = re.search(r"X-Sandbox-Token: ([\w-]+)", output)
        assert portal and token, output
        state = portal.group(1) + "/__sandbox/state"
        deadline = time.monotonic() + 30
        while True:  # the server starts listening just after printing
            try:
                refused = httpx.get(state)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert refused.status_code == 403
        assert httpx.get(state, headers={"X-Sandbox-Token": token.group(1)}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
