"""One settings model for the whole product, read from the environment and `.env`.

Errors are reported as one line naming the variable (`ConfigError`), so the CLI can exit 2 without a
traceback. Secrets are `SecretStr` and every secret value is registered with the log redaction filter.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from crm_core.errors import ConfigError as ConfigError  # the settings are where callers meet it
from crm_core.json_logger import mask_url_secrets, register_secret
from crm_core.periods import daily_report_date


class RunEnv(StrEnum):
    DEV = "dev"
    PROD = "prod"
    LOCAL = "local"


SmtpSecurity = Literal["starttls", "ssl", "none"]

# Values that mean "nobody set this yet" (copied from an example file); refused in prod.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "changethis", "password", "secret", "example", "xxx", "todo"}
)

SUPPORTED_DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
# Query parameters of DATABASE_URL that carry a secret (libpq/asyncpg spellings).
URL_SECRET_PARAMS = frozenset({"password", "sslpassword"})

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class Settings(BaseSettings):
    """Every configuration variable. Field names are the environment variable names, lower-cased."""

    # An empty value (`REPORTS_DIR=` in .env or the compose file) means "not set": the default applies,
    # never the current directory.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
        # A field's docstring is its description (docs/configuration.md is generated from them).
        use_attribute_docstrings=True,
    )

    crm_home: Path = Field(default=Path("./var"), description="root of downloads, reports, outbox, logs")
    database_url: SecretStr | None = Field(default=None, description="SQLAlchemy async URL")
    crm_run_env: RunEnv = RunEnv.DEV
    """dev, prod or local: selects notification profiles and recipients; prod refuses placeholders."""
    crm_timezone: str = "Asia/Kolkata"
    """business time zone of report dates, periods and schedules."""
    crm_today: date | None = Field(
        default=None,
        description="the business date taken as today (default: the clock in CRM_TIMEZONE); for a portal "
        "frozen at a day, like the simulator",
    )
    crm_reports_start: date | None = Field(
        default=None, description="first day weekly/monthly catch-up covers (default: first dashboard data)"
    )
    ingest_batch_size: int = Field(default=3000, ge=1, le=100_000)
    """rows validated and upserted per batch."""
    report_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
    )
    """processes drawing PDFs side by side (default: one per CPU core; 1: in the run's own process)."""
    json_log_file: Path | None = None
    """also append every NDJSON event to this file (rotated by housekeeping)."""
    reports_dir: Path | None = None
    """where the PDFs go (default: $CRM_HOME/reports)."""
    downloads_dir: Path | None = None
    """where portal exports land (default: $CRM_HOME/downloads)."""

    portal_base_url: str | None = None
    """portal origin, e.g. https://portal.example.com."""
    portal_tms_url: str | None = None
    """TMS origin the portal hands over to for the export pages."""
    portal_username: str | None = None
    """the one portal login."""
    portal_password: SecretStr | None = None
    """its password (secret; or CRM_PORTAL_BLOCK)."""
    portal_headless: bool = True
    """run Chromium without a window (false for `crm portal login --headed` debugging)."""
    portal_concurrency: int = Field(default=2, ge=1, le=16)
    """stores downloaded at the same time."""
    portal_nav_timeout_ms: int = Field(default=90_000, ge=1_000)
    """page navigation timeout."""
    portal_max_export_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    """largest export kept, in bytes after decompression (a bigger one is refused, that export only)."""
    portal_login_path: str = "/home/login"
    """login page path on the portal."""
    portal_home_path: str = "/home"
    """page that proves a session is logged in."""
    portal_dashboard_path: str = "/mis/partner_dashboard?store_code={store_code}"
    """dashboard page of one store."""
    portal_storage_state: Path | None = None
    """saved portal session (default: $CRM_HOME/browser/storage_state.json, mode 0600)."""
    chromium_path: Path | None = None
    """Chromium/Chrome binary (default: the first on PATH, else Playwright's own)."""

    smtp_host: str | None = None
    """SMTP server; unset: emails are written to $CRM_HOME/outbox/*.eml."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    """SMTP port."""
    smtp_username: str | None = None
    """SMTP login (none: no authentication)."""
    smtp_password: SecretStr | None = None
    """SMTP password (secret; or CRM_SMTP_BLOCK)."""
    smtp_security: SmtpSecurity = "starttls"
    """starttls, ssl or none."""
    smtp_ca_file: Path | None = None
    """PEM certificate(s) the SMTP server's certificate must chain to (default: the system's trusted CAs);
    with starttls or ssl the certificate and the host name are always checked."""
    smtp_from: str = "TSV Reports <reports@localhost>"
    """From header of every email."""
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    """seconds to wait for the SMTP server."""
    alert_email_to: str | None = Field(
        default=None, description="comma-separated fallback recipients of failure alerts"
    )

    crm_db_block: str | None = None
    """Prefect block supplying DATABASE_URL inside flow runs."""
    crm_smtp_block: str | None = None
    """Prefect block supplying the SMTP settings inside flow runs."""
    crm_portal_block: str | None = None
    """Prefect block supplying the portal login inside flow runs."""

    # Retention (`crm housekeeping`): what is older than this many days goes.
    retention_pdf_days: int = Field(
        default=400, ge=1, description="days a report PDF is kept (its documents row is marked deleted)"
    )
    retention_outbox_days: int = Field(default=90, ge=1, description="days an outbox .eml is kept")
    retention_artifacts_days: int = Field(
        default=90, ge=1, description="days the screenshot and HTML of a failed portal login are kept"
    )
    retention_downloads_days: int = Field(
        default=90, ge=1, description="days export files kept after a failed audit are kept"
    )
    retention_summaries_days: int = Field(
        default=400,
        ge=1,
        description="days a run summary is kept (a produced week's or month's latest one always stays)",
    )
    retention_email_log_days: int = Field(default=400, ge=1, description="days an email_sends row is kept")
    json_log_max_mb: int = Field(
        default=50, ge=1, description="JSON_LOG_FILE is rotated by housekeeping once it is this large"
    )
    json_log_keep: int = Field(default=8, ge=1, description="rotated JSON_LOG_FILE generations kept")
    status_grace_minutes: int = Field(
        default=180,
        ge=0,
        description="how long after its scheduled time a run may take before `crm status` calls it missing",
    )

    @field_validator("crm_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        # `user:p@ss@db` parses as host `ss@db`, and the error would then show part of the password.
        authority = value.get_secret_value().strip().partition("://")[2].split("/", 1)[0]
        if authority.count("@") > 1:
            raise ValueError(
                "has more than one '@' before the host: percent-encode an '@' in the user name or "
                "password as %40 (postgresql+asyncpg://user:pa%40ss@host:5432/db)"
            )
        try:
            url = make_url(value.get_secret_value().strip())
        except ArgumentError:
            raise ValueError(
                "is not a database URL (expected postgresql+asyncpg://… or sqlite+aiosqlite:///…)"
            ) from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported (use one of {', '.join(SUPPORTED_DRIVERS)})"
            )
        return SecretStr(value.get_secret_value().strip())

    @field_validator("portal_base_url", "portal_tms_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("smtp_host", "portal_username", "crm_db_block", "crm_smtp_block", "crm_portal_block")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @field_validator("alert_email_to")
    @classmethod
    def _email_list(cls, value: str | None) -> str | None:
        addresses = [a.strip() for a in (value or "").split(",") if a.strip()]
        bad = [a for a in addresses if not _EMAIL_RE.fullmatch(a)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)} (expected a@b.example, c@d.example)")
        return ", ".join(addresses) or None

    @property
    def alert_recipients(self) -> list[str]:
        return self.alert_email_to.split(", ") if self.alert_email_to else []

    @model_validator(mode="after")
    def _no_placeholders_in_prod(self) -> Settings:
        for name in ("database_url", "portal_password", "smtp_password"):
            secret: SecretStr | None = getattr(self, name)
            if secret is None:
                continue
            raw = secret.get_secret_value()
            register_secret(raw)
            if name == "database_url":
                # The password also travels alone (driver errors, connection strings), and may be
                # given as a query parameter instead of in the user info.
                url = make_url(raw)
                register_secret(str(url.password) if url.password is not None else None)
                for key in URL_SECRET_PARAMS & set(url.query):
                    values = url.query[key]
                    for value in (values,) if isinstance(values, str) else values:
                        register_secret(value)
            if self.crm_run_env is RunEnv.PROD and _looks_like_placeholder(name, raw):
                raise ValueError(f"{name.upper()}: placeholder secret refused when CRM_RUN_ENV=prod")
        return self

    @model_validator(mode="after")
    def _database_named_in_prod(self) -> Settings:
        # The SQLite default is for trying the product out; production data must never land in ./var.
        if self.crm_run_env is RunEnv.PROD and self.database_url is None and self.crm_db_block is None:
            raise ValueError(
                "DATABASE_URL must be set when CRM_RUN_ENV=prod (or CRM_DB_BLOCK naming its block)"
            )
        return self

    # Derived locations: one place decides where things live under CRM_HOME.
    @property
    def home(self) -> Path:
        return self.crm_home.expanduser().resolve()

    @property
    def reports_path(self) -> Path:
        return (self.reports_dir or self.home / "reports").expanduser().resolve()

    @property
    def downloads_path(self) -> Path:
        return (self.downloads_dir or self.home / "downloads").expanduser().resolve()

    @property
    def outbox_path(self) -> Path:
        return self.home / "outbox"

    @property
    def artifacts_path(self) -> Path:
        return self.home / "artifacts"

    @property
    def storage_state_path(self) -> Path:
        return (self.portal_storage_state or self.home / "browser" / "storage_state.json").expanduser()

    @property
    def db_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.crm_run_env is RunEnv.PROD:
            # Only CRM_DB_BLOCK named: its URL is loaded inside runs (`resolve_block_secrets`), never SQLite.
            raise ConfigError(
                f"DATABASE_URL is not set: the CRM_DB_BLOCK block {self.crm_db_block!r} is loaded inside "
                "flow runs only; set DATABASE_URL for this command"
            )
        return f"sqlite+aiosqlite:///{self.home / 'crm.db'}"

    @property
    def db_url_redacted(self) -> str:
        return mask_url_secrets(make_url(self.db_url).render_as_string(hide_password=True))

    @property
    def dialect(self) -> str:
        return make_url(self.db_url).get_backend_name()

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.crm_timezone)

    def current_report_date(self) -> date:
        """T-1 of the business today: the one date the portal's current state belongs to."""
        if self.crm_today is not None:
            return self.crm_today - timedelta(days=1)
        return daily_report_date(zone=self.zone)

    def chromium_executable(self) -> Path | None:
        """The configured browser binary, else the first one on PATH; None lets Playwright use its own."""
        if self.chromium_path is not None:
            return self.chromium_path
        for candidate in CHROMIUM_CANDIDATES:
            found = shutil.which(candidate)
            if found:
                return Path(found)
        return None


_EMAIL_RE = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")


def _looks_like_placeholder(name: str, raw: str) -> bool:
    if name == "database_url":
        try:
            password = make_url(raw).password
        except ArgumentError:
            return False
        return password is not None and str(password).lower() in PLACEHOLDER_SECRETS
    return raw.strip().lower() in PLACEHOLDER_SECRETS or not raw.strip()


def format_validation_error(exc: ValidationError) -> str:
    """One line naming each bad variable: `DATABASE_URL: is not a database URL …`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) if err["loc"] else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc.upper()}: {msg}" if loc else msg)
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation failures into a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {format_validation_error(exc)}") from None


def database_url_object(settings: Settings) -> URL:
    return make_url(settings.db_url)
