"""Running the downloader against the portal simulator: settings, a run, its events."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from crm_core.json_logger import EventLogger
from crm_core.portal.config import PortalConfig
from crm_core.portal.download import DownloadResult, download_all
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxServer
from crm_core.settings import Settings

DAY = date(2025, 11, 19)


def make_settings(sim: SandboxServer, home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "crm_home": home,
        "portal_base_url": sim.portal_origin,
        "portal_tms_url": sim.tms_origin,
        "portal_username": DEMO_USERNAME,
        "portal_password": DEMO_PASSWORD,
        "chromium_path": "/usr/bin/chromium",
        "database_url": f"sqlite+aiosqlite:///{home / 'crm.db'}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def fast_config(settings: Settings, **config: Any) -> PortalConfig:
    """Our own back-off shortened so that tests wait only where a server says so."""
    return PortalConfig.from_settings(settings, **{"backoff_s": 0.05, "max_backoff_s": 0.1, **config})


async def run(
    sim: SandboxServer, home: Path, stores: list[str], *faults: str, **config: Any
) -> tuple[DownloadResult, EventLogger]:
    for spec in faults:
        sim.state.faults.add(spec)
    settings = make_settings(sim, home, **config.pop("settings", {}))
    logger = EventLogger("test-run", "dashboard_daily", stream=None, events=[])
    return await download_all(settings, stores, DAY, logger, config=fast_config(settings, **config)), logger


def events(logger: EventLogger, store: str | None = None, bucket: str | None = None) -> list[str]:
    return [
        f"{e['status']}: {e['message']}"
        for e in logger.events
        if (store is None or e["store_code"] == store) and (bucket is None or e["bucket"] == bucket)
    ]


def rows_of(path: Path) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig", "replace")))) - 1
