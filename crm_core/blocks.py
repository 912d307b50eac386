"""Prefect blocks that hold the product's secrets (the only Prefect import in crm_core).

Settings name blocks with `CRM_DB_BLOCK`, `CRM_SMTP_BLOCK` and `CRM_PORTAL_BLOCK`; `resolve_block_secrets`
loads them at run time inside the flow, so secrets are never flow parameters or job variables.
"""

from __future__ import annotations

from typing import Any, ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from crm_core.json_logger import describe_exception, register_secret
from crm_core.settings import ConfigError, Settings


class CrmDatabaseBlock(Block):
    """The database URL (it carries the password)."""

    _block_type_name: ClassVar[str] = "CRM Database"
    _block_type_slug: ClassVar[str] = "crm-database"
    _description: ClassVar[str] = "TSV CRM: SQLAlchemy async database URL"

    url: SecretStr = Field(description="postgresql+asyncpg://user:password@host:5432/db")


class CrmSmtpBlock(Block):
    """SMTP server and login for notification emails."""

    _block_type_name: ClassVar[str] = "CRM SMTP"
    _block_type_slug: ClassVar[str] = "crm-smtp"
    _description: ClassVar[str] = "TSV CRM: SMTP server for notification emails"

    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    security: str = Field(default="starttls", description="starttls, ssl or none")
    from_address: str | None = None


class CrmPortalBlock(Block):
    """The franchisor portal's origins and the one login."""

    _block_type_name: ClassVar[str] = "CRM Portal Login"
    _block_type_slug: ClassVar[str] = "crm-portal-login"
    _description: ClassVar[str] = "TSV CRM: portal origins and login"

    base_url: str | None = None
    tms_url: str | None = None
    username: str
    password: SecretStr


BLOCK_TYPES: tuple[type[Block], ...] = (CrmDatabaseBlock, CrmSmtpBlock, CrmPortalBlock)


async def _load(block_type: type[Block], name: str, variable: str) -> Any:
    try:
        return await block_type.aload(name)
    except Exception as exc:
        raise ConfigError(f"{variable}: cannot load block {name!r} ({describe_exception(exc)})") from None


async def resolve_block_secrets(settings: Settings) -> Settings:
    """Settings with every secret the named blocks supply (re-validated, so the same rules apply)."""
    update: dict[str, Any] = {}
    if settings.crm_db_block:
        db = await _load(CrmDatabaseBlock, settings.crm_db_block, "CRM_DB_BLOCK")
        update["database_url"] = db.url
    if settings.crm_smtp_block:
        smtp = await _load(CrmSmtpBlock, settings.crm_smtp_block, "CRM_SMTP_BLOCK")
        update |= {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_username": smtp.username,
            "smtp_password": smtp.password,
            "smtp_security": smtp.security,
        }
        if smtp.from_address:
            update["smtp_from"] = smtp.from_address
    if settings.crm_portal_block:
        portal = await _load(CrmPortalBlock, settings.crm_portal_block, "CRM_PORTAL_BLOCK")
        update |= {"portal_username": portal.username, "portal_password": portal.password}
        if portal.base_url:
            update["portal_base_url"] = portal.base_url
        if portal.tms_url:
            update["portal_tms_url"] = portal.tms_url
    if not update:
        return settings
    for value in update.values():
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
    merged = settings.model_dump() | update
    return Settings.model_validate(merged)


async def register_block_types() -> list[str]:
    for block_type in BLOCK_TYPES:
        await block_type.aregister_type_and_schema()
    return [b.get_block_type_slug() for b in BLOCK_TYPES]


async def save_blocks_from_settings(settings: Settings, name: str) -> list[str]:
    """Save the secrets currently in the environment as blocks called `name`; returns what was saved."""
    saved: list[str] = []
    if settings.database_url is not None:
        await CrmDatabaseBlock(url=settings.database_url).asave(name, overwrite=True)
        saved.append(f"crm-database/{name}")
    if settings.smtp_host:
        await CrmSmtpBlock(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            from_address=settings.smtp_from,
        ).asave(name, overwrite=True)
        saved.append(f"crm-smtp/{name}")
    if settings.portal_username and settings.portal_password is not None:
        await CrmPortalBlock(
            base_url=settings.portal_base_url,
            tms_url=settings.portal_tms_url,
            username=settings.portal_username,
            password=settings.portal_password,
        ).asave(name, overwrite=True)
        saved.append(f"crm-portal-login/{name}")
    return saved
