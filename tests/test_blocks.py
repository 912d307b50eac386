"""Secrets from Prefect blocks, against a real (temporary) Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from crm_core.blocks import (
    CrmDatabaseBlock,
    CrmPortalBlock,
    CrmSmtpBlock,
    register_block_types,
    resolve_block_secrets,
    save_blocks_from_settings,
)
from crm_core.json_logger import redact_text
from crm_core.settings import ConfigError, Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def base(tmp_path: Path, **kwargs: object) -> Settings:
    return Settings(_env_file=None, crm_home=tmp_path, **kwargs)  # type: ignore[call-arg]


async def test_blocks_supply_secrets(tmp_path: Path) -> None:
    await register_block_types()
    await CrmDatabaseBlock(url=SecretStr("postgresql+asyncpg://crm:Blk-Db-Pw-1@db:5432/crm")).asave(
        "t1", overwrite=True
    )
    await CrmSmtpBlock(
        host="smtp.example.com", port=465, security="ssl", password=SecretStr("Blk-Smtp-Pw-2")
    ).asave("t1", overwrite=True)
    await CrmPortalBlock(
        base_url="http://127.0.0.1:9001", username="A668", password=SecretStr("Blk-Portal-Pw-3")
    ).asave("t1", overwrite=True)

    settings = base(tmp_path, crm_db_block="t1", crm_smtp_block="t1", crm_portal_block="t1")
    resolved = await resolve_block_secrets(settings)
    assert resolved.db_url == "postgresql+asyncpg://crm:Blk-Db-Pw-1@db:5432/crm"
    assert resolved.smtp_host == "smtp.example.com" and resolved.smtp_port == 465
    assert resolved.smtp_security == "ssl"
    assert resolved.portal_username == "A668"
    assert resolved.portal_base_url == "http://127.0.0.1:9001"
    assert resolved.portal_password is not None
    assert resolved.portal_password.get_secret_value() == "Blk-Portal-Pw-3"
    assert "Blk-" not in redact_text("Blk-Db-Pw-1 Blk-Smtp-Pw-2 Blk-Portal-Pw-3")


async def test_missing_block_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CRM_DB_BLOCK: cannot load block 'absent'"):
        await resolve_block_secrets(base(tmp_path, crm_db_block="absent"))


async def test_no_blocks_named_returns_settings_unchanged(tmp_path: Path) -> None:
    settings = base(tmp_path)
    assert await resolve_block_secrets(settings) is settings


async def test_save_from_settings_round_trip(tmp_path: Path) -> None:
    settings = base(
        tmp_path,
        database_url="sqlite+aiosqlite:////tmp/x.db",
        smtp_host="127.0.0.1",
        portal_username="A668",
        portal_password="Round-Trip-Pw",
    )
    saved = await save_blocks_from_settings(settings, "rt")
    assert saved == ["crm-database/rt", "crm-smtp/rt", "crm-portal-login/rt"]
    loaded = await CrmPortalBlock.aload("rt")
    assert loaded.password.get_secret_value() == "Round-Trip-Pw"
