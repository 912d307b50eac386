"""The portal configuration: URLs required, every wait within the navigation budget, home recognised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm_core.portal.config import PortalConfig, Timeouts
from crm_core.settings import ConfigError, Settings

PORTAL, TMS = "http://127.0.0.1:8001", "http://127.0.0.1:8002"


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, crm_home=tmp_path, **values)  # type: ignore[call-arg]


def test_the_portal_urls_are_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL and PORTAL_TMS_URL"):
        PortalConfig.from_settings(settings(tmp_path, portal_base_url=PORTAL))


@pytest.mark.parametrize(
    ("nav", "expected"),
    [
        (10_000, Timeouts(10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000)),
        (45_000, Timeouts(45_000, 15_000, 45_000, 30_000, 30_000, 45_000, 45_000)),
        # A longer budget lengthens navigation only: the other waits keep their own limits.
        (120_000, Timeouts(120_000, 15_000, 60_000, 30_000, 30_000, 60_000, 90_000)),
    ],
)
def test_no_wait_exceeds_the_navigation_budget(tmp_path: Path, nav: int, expected: Timeouts) -> None:
    config = PortalConfig.from_settings(
        settings(tmp_path, portal_base_url=PORTAL, portal_tms_url=TMS, portal_nav_timeout_ms=nav)
    )
    assert config.timeouts == expected


def test_home_is_the_page_itself_not_a_step_below_it(tmp_path: Path) -> None:
    config = PortalConfig.from_settings(settings(tmp_path, portal_base_url=PORTAL, portal_tms_url=TMS))
    assert config.is_home(config.home_url) and config.is_home(config.home_url + "/")
    assert not config.is_home(config.home_url + "/otp")
    assert not config.is_home(TMS + config.home_path)  # same path, other origin
    assert config.dashboard_url("A668").startswith(TMS) and "A668" in config.dashboard_url("A668")
