"""What the downloader needs to know about the portal (resolved from settings once) and its selectors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crm_core.portal.detect import same_origin
from crm_core.settings import ConfigError, Settings
from crm_core.store_codes import checked_store_code

PHASE = "download"
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
TRACKER_TITLE = "Daily Operations Tracker"
DOWNLOAD_CONTROLS = (
    "a[title='Download'], a[href*='download'], a[href*='export'], a[download], "
    "a:has-text('Download'), button:has-text('Download'), button[title='Download']"
)
# The clickable card: the nearest ancestor that is a link or has the class "card".
CARD_XPATH = (
    "xpath=ancestor-or-self::*[self::a or contains(concat(' ', normalize-space(@class), ' '), ' card ')][1]"
)


@dataclass(frozen=True)
class Timeouts:
    """Waits in milliseconds; navigation uses `PORTAL_NAV_TIMEOUT_MS`."""

    nav: int = 90_000
    username_field: int = 15_000
    submit_navigation: int = 60_000
    form_detach: int = 30_000
    tracker_heading: int = 30_000
    tracker_open: int = 60_000
    download_controls: int = 90_000


@dataclass(frozen=True)
class PortalConfig:
    """Everything the downloader needs, resolved from settings once."""

    portal_origin: str
    tms_origin: str
    username: str | None
    password: str | None
    login_path: str
    home_path: str
    dashboard_path: str
    headless: bool
    concurrency: int
    storage_state: Path
    downloads: Path
    artifacts: Path
    chromium: Path | None
    timeouts: Timeouts = field(default_factory=Timeouts)
    nav_attempts: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    # A server's Retry-After is honoured up to this (ours alone never waits more than max_backoff_s).
    max_retry_after_s: float = 300.0
    rate_limit_retries: int = 3
    max_export_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PortalConfig:
        if not settings.portal_base_url or not settings.portal_tms_url:
            raise ConfigError(
                "PORTAL_BASE_URL and PORTAL_TMS_URL must be set (crm sandbox serve prints them)"
            )
        nav = settings.portal_nav_timeout_ms
        values: dict[str, Any] = {
            "portal_origin": settings.portal_base_url,
            "tms_origin": settings.portal_tms_url,
            "username": settings.portal_username,
            "password": settings.portal_password.get_secret_value() if settings.portal_password else None,
            "login_path": settings.portal_login_path,
            "home_path": settings.portal_home_path,
            "dashboard_path": settings.portal_dashboard_path,
            "headless": settings.portal_headless,
            "concurrency": settings.portal_concurrency,
            "storage_state": settings.storage_state_path,
            "downloads": settings.downloads_path,
            "artifacts": settings.artifacts_path,
            "chromium": settings.chromium_executable(),
            "max_export_bytes": settings.portal_max_export_bytes,
            # No single wait may exceed the configured navigation budget.
            "timeouts": Timeouts(
                **{name: min(nav, ms) for name, ms in asdict(Timeouts()).items()} | {"nav": nav}
            ),
        }
        values.update(overrides)
        return cls(**values)

    @property
    def login_url(self) -> str:
        return self.portal_origin + self.login_path

    @property
    def home_url(self) -> str:
        return self.portal_origin + self.home_path

    def is_home(self, url: str) -> bool:
        """On the portal home page itself (not merely under /home, like /home/otp)."""
        return same_origin(url, self.portal_origin) and urlsplit(url).path.rstrip(
            "/"
        ) == self.home_path.rstrip("/")

    def dashboard_url(self, store_code: str) -> str:
        return self.tms_origin + self.dashboard_path.format(store_code=checked_store_code(store_code))
