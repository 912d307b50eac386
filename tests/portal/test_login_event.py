"""The login event carries nothing derived from the password (not even its length)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_core.portal.sandbox.server import SandboxServer
from tests.portal.simulated import run


@pytest.mark.e2e
async def test_login_event_says_nothing_about_the_password(sim: SandboxServer, tmp_path: Path) -> None:
    result, logger = await run(sim, tmp_path, ["A668"])
    assert result.logged_in
    login = [e for e in logger.events if e.get("message") == "logged in to the portal"]
    assert len(login) == 1
    assert "password" not in json.dumps(login[0]).lower(), login[0]
