from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from crm_core.json_logger import redact_text
from crm_core.settings import ConfigError, RunEnv, Settings, load_settings


def make(**kwargs: object) -> Settings:
    return load_settings(_env_file=None, **kwargs)


def test_embedded_defaults_use_sqlite_under_crm_home(tmp_path: Path) -> None:
    settings = make(crm_home=tmp_path)
    assert settings.db_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'crm.db'}"
    assert settings.dialect == "sqlite"
    assert settings.crm_run_env is RunEnv.DEV
    assert settings.ingest_batch_size == 3000
    assert settings.downloads_path == tmp_path.resolve() / "downloads"
    assert settings.reports_path == tmp_path.resolve() / "reports"
    assert settings.outbox_path == tmp_path.resolve() / "outbox"
    assert settings.portal_concurrency == 2 and settings.portal_headless is True
    assert settings.smtp_port == 587 and settings.smtp_security == "starttls"
    assert str(settings.zone) == "Asia/Kolkata"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRM_HOME", str(tmp_path))
    monkeypatch.setenv("PORTAL_BASE_URL", "http://127.0.0.1:8000/")
    monkeypatch.setenv("PORTAL_CONCURRENCY", "4")
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "pdfs"))
    settings = make()
    assert settings.portal_base_url == "http://127.0.0.1:8000"
    assert settings.portal_concurrency == 4
    assert settings.reports_path == (tmp_path / "pdfs").resolve()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("database_url", "not a url", "DATABASE_URL: is not a database URL"),
        ("database_url", "mysql://u@h/db", "DATABASE_URL: driver 'mysql' is not supported"),
        ("crm_run_env", "staging", "CRM_RUN_ENV:"),
        ("crm_timezone", "Mars/Olympus", "CRM_TIMEZONE: unknown time zone"),
        ("ingest_batch_size", 0, "INGEST_BATCH_SIZE:"),
        ("portal_base_url", "ftp://x", "PORTAL_BASE_URL: must start with http"),
        ("smtp_security", "tls", "SMTP_SECURITY:"),
    ],
)
def test_bad_values_give_one_line_naming_the_variable(field: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(**{field: value})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_placeholder_secrets_refused_in_prod_only() -> None:
    with pytest.raises(ConfigError, match="PORTAL_PASSWORD: placeholder secret refused"):
        make(crm_run_env="prod", portal_password="changeme")
    with pytest.raises(ConfigError, match="DATABASE_URL: placeholder secret refused"):
        make(crm_run_env="prod", database_url="postgresql+asyncpg://crm:changeme@db:5432/crm")
    assert make(crm_run_env="dev", portal_password="changeme").portal_password is not None
    prod_db = "postgresql+asyncpg://crm:S3cure-Db-Pass@db:5432/crm"
    assert make(crm_run_env="prod", database_url=prod_db, portal_password="S3cure-Long-Pass").portal_password


def test_prod_requires_a_database_url_or_block(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        make(crm_run_env="prod", crm_home=tmp_path)
    message = str(info.value)
    assert "DATABASE_URL must be set when CRM_RUN_ENV=prod" in message and "\n" not in message
    with pytest.raises(ConfigError, match="DATABASE_URL must be set"):
        make(crm_run_env="prod", database_url="  ")  # blank is unset
    prod = make(crm_run_env="prod", database_url="postgresql+asyncpg://crm:S3cure-Db-Pass@db:5432/crm")
    assert prod.dialect == "postgresql"
    # Outside prod the SQLite default under CRM_HOME stays.
    assert make(crm_run_env="local", crm_home=tmp_path).dialect == "sqlite"


def test_prod_with_only_a_database_block_never_falls_back_to_sqlite(tmp_path: Path) -> None:
    settings = make(crm_run_env="prod", crm_db_block="prod", crm_home=tmp_path)
    assert settings.crm_db_block == "prod" and settings.database_url is None
    with pytest.raises(ConfigError, match="CRM_DB_BLOCK block 'prod' is loaded inside flow runs only"):
        _ = settings.db_url
    resolved = Settings.model_validate(
        settings.model_dump() | {"database_url": "postgresql+asyncpg://crm:S3cure-Db-Pass@db:5432/crm"}
    )
    assert resolved.dialect == "postgresql"


def test_secrets_are_registered_for_redaction() -> None:
    make(portal_password="Sentinel-Portal-Pw-91", smtp_password="Sentinel-Smtp-Pw-17")
    text = redact_text("login with Sentinel-Portal-Pw-91 and Sentinel-Smtp-Pw-17")
    assert "Sentinel" not in text


def test_redacted_database_url_hides_password() -> None:
    settings = make(database_url="postgresql+asyncpg://crm:pw-Secret-9@db:5432/crm")
    assert "pw-Secret-9" not in settings.db_url_redacted
    assert "pw-Secret-9" not in repr(settings)


def test_redacted_database_url_hides_a_password_given_as_query_parameter() -> None:
    settings = make(database_url="postgresql+asyncpg://crm@db:5432/crm?password=Qp-Secret-3&ssl=require")
    assert settings.db_url_redacted == "postgresql+asyncpg://crm@db:5432/crm?password=***&ssl=require"
    assert "Qp-Secret-3" not in redact_text("driver said: auth failed for Qp-Secret-3")


def test_chromium_path_configured_or_autodetected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make(chromium_path=tmp_path / "chrome").chromium_executable() == tmp_path / "chrome"
    fake = tmp_path / "bin" / "chromium"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert make().chromium_executable() == fake
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert make().chromium_executable() is None


def test_alert_email_to_is_a_validated_comma_separated_list(tmp_path: Path) -> None:
    settings = Settings(crm_home=tmp_path, alert_email_to=" ops@example.com ,owner@example.com,")
    assert settings.alert_recipients == ["ops@example.com", "owner@example.com"]
    assert Settings(crm_home=tmp_path).alert_recipients == []
    with pytest.raises(ConfigError, match=r"ALERT_EMAIL_TO.*not an email address: ops-at-example"):
        load_settings(crm_home=tmp_path, alert_email_to="ops-at-example, owner@example.com")


def test_an_empty_value_means_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`JSON_LOG_FILE=` or `REPORTS_DIR=` fall back to the defaults, never to the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("JSON_LOG_FILE", "REPORTS_DIR", "DOWNLOADS_DIR", "DATABASE_URL", "SMTP_HOST", "CRM_HOME"):
        monkeypatch.setenv(name, "")
    env_file = tmp_path / ".env"
    env_file.write_text("REPORTS_DIR=\nJSON_LOG_FILE=\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.json_log_file is None
    assert settings.reports_path == (tmp_path / "var" / "reports").resolve()
    assert settings.downloads_path == (tmp_path / "var" / "downloads").resolve()
    assert settings.smtp_host in (None, "")
    assert settings.db_url.startswith("sqlite+aiosqlite:///")


@pytest.mark.parametrize("userinfo", ["crm:Zq9x@Kv7w", "crm:Zq9x@Kv7w@Jp4t", "crm@Kv7w:Zq9x"])
def test_an_unencoded_at_in_the_database_password_is_refused_without_echoing_it(userinfo: str) -> None:
    """`crm:p@ss@db` would parse as host `ss@db` and show part of the password in every later error."""
    with pytest.raises(ConfigError) as raised:
        make(database_url=f"postgresql+asyncpg://{userinfo}@db:5432/crm")
    message = str(raised.value)
    assert message.startswith("invalid configuration: DATABASE_URL: has more than one '@' before the host")
    assert "%40" in message
    assert not any(part in message for part in ("Zq9x", "Kv7w", "Jp4t"))
    # Percent-encoded, the same password is accepted and reaches the driver decoded.
    settings = make(database_url="postgresql+asyncpg://crm:Zq9x%40Kv7w@db:5432/crm")
    assert make_url(settings.db_url).password == "Zq9x@Kv7w"
    assert make_url(settings.db_url).host == "db"
    # An '@' in a SQLite file path is not user info.
    assert make(database_url="sqlite+aiosqlite:////tmp/a@b/crm@1.db").dialect == "sqlite"
