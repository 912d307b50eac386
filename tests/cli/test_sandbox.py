"""`crm sandbox serve --host`: the simulator listens on that name and puts it in its links, so other
machines (the worker's container, reaching the simulator's container by its service name) can follow them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

CRM = str(Path(sys.executable).with_name("crm"))


def test_serve_listens_on_the_named_host_and_links_with_it() -> None:
    process = subprocess.Popen(
        [CRM, "sandbox", "serve", "--host", "localhost", "--port", "0", "--tms-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        portal_line = process.stdout.readline()
        tms_line = process.stdout.readline()
        assert portal_line.startswith("portal  http://localhost:"), portal_line
        assert tms_line.startswith("TMS     http://localhost:"), tms_line
        portal = portal_line.split()[1]
        with urllib.request.urlopen(f"{portal}/__sandbox/state", timeout=10) as response:
            state = json.loads(response.read())
        assert state["portal"] == portal and state["tms"] == tms_line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
