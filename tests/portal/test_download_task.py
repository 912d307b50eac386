"""The download task retries only transient failures; the login bootstrap saves a reusable session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from crm_core.json_logger import EventLogger
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from crm_core.portal.session import LoginFailed, PortalUnavailable, interactive_login
from crm_core.settings import ConfigError, Settings
from tasks.common import is_transient, retry_transient_only
from tasks.download import download_exports


def test_only_transient_portal_errors_are_retried() -> None:
    assert download_exports.retries == 3
    assert download_exports.retry_condition_fn is retry_transient_only
    assert is_transient(PortalUnavailable("portal home unreachable"))
    assert not is_transient(LoginFailed("site reports login error"))
    assert not is_transient(ConfigError("PORTAL_BASE_URL and PORTAL_TMS_URL must be set"))


@pytest.mark.e2e
async def test_login_bootstrap_saves_state_then_sees_it_valid(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig(dashboard_date=date(2025, 11, 19))) as sim:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            crm_home=tmp_path,
            portal_base_url=sim.portal_origin,
            portal_tms_url=sim.tms_origin,
            portal_username=DEMO_USERNAME,
            portal_password=DEMO_PASSWORD,
        )
        logger = EventLogger("bootstrap", "portal_login", stream=None)
        assert await interactive_login(settings, logger, headed=False)
        state = settings.storage_state_path
        assert state.stat().st_mode & 0o777 == 0o600 and sim.state.stats["login_ok"] == 1
        assert await interactive_login(settings, logger, headed=False)
        assert sim.state.stats["login_ok"] == 1  # the saved session was valid: no second login
