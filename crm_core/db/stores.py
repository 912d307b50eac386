"""Store scope and store management (`store_master`), and notification recipients."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import NotificationProfile, NotificationRecipient, Pipeline, StoreMaster
from crm_core.settings import ConfigError
from crm_core.store_codes import normalise_store_code
from crm_core.text import refuse_control_characters

EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
SEND_AS = ("to", "cc", "bcc")
ENVS = ("any", "dev", "prod", "local")


def parse_store_codes(stores: str | Sequence[str] | None) -> list[str] | None:
    """A store list as given: `A668,A817` (CLI option, `--param stores=…`) or a list (Prefect UI).

    Items are trimmed and blanks dropped; nothing left means "no subset" (None). Validation is
    `normalise_store_code`'s job."""
    if stores is None:
        return None
    items = stores.split(",") if isinstance(stores, str) else stores
    return [item.strip() for item in items if item.strip()] or None


@dataclass(frozen=True)
class StoreScope:
    etl: list[str]
    report: list[str]


async def store_scope(session: AsyncSession, subset: list[str] | None = None) -> StoreScope:
    """Active ETL and report stores, sorted; a store set no run can use raises `ConfigError`."""
    rows = (await session.execute(select(StoreMaster).where(StoreMaster.is_active))).scalars().all()
    etl = sorted({r.store_code.upper() for r in rows if r.etl_flag})
    report = sorted({r.store_code.upper() for r in rows if r.report_flag})
    not_etl = [code for code in report if code not in etl]
    if not_etl:
        raise ConfigError(
            f"report stores must also be ETL stores: {', '.join(not_etl)} (crm stores set CODE --etl)"
        )
    if subset:
        wanted = sorted({normalise_store_code(code) for code in subset})
        unknown = [code for code in wanted if code not in etl]
        if unknown:
            raise ConfigError(f"stores not flagged for ETL: {', '.join(unknown)}")
        etl = wanted
        report = [code for code in report if code in wanted]
    if not etl:
        raise ConfigError("no stores are flagged for ETL (crm stores add CODE --etl)")
    return StoreScope(etl=etl, report=report)


async def list_stores(session: AsyncSession) -> list[StoreMaster]:
    return list((await session.execute(select(StoreMaster).order_by(StoreMaster.store_code))).scalars())


async def get_store(session: AsyncSession, code: str) -> StoreMaster | None:
    return await find_store(session, normalise_store_code(code))


async def find_store(session: AsyncSession, code: str) -> StoreMaster | None:
    """The store whose code matches `code` trimmed and upper-cased (reports look up what they are given:
    an unknown code is simply no store)."""
    wanted = code.strip().upper()
    result = await session.execute(select(StoreMaster).where(func.upper(StoreMaster.store_code) == wanted))
    return result.scalar_one_or_none()


async def add_store(
    session: AsyncSession,
    code: str,
    *,
    name: str | None = None,
    etl: bool = True,
    report: bool = False,
    gstin: str | None = None,
    launch_date: date | None = None,
) -> StoreMaster:
    code = normalise_store_code(code)
    refuse_control_characters(name, "store name")
    if await get_store(session, code) is not None:
        raise ConfigError(f"store {code} already exists (use crm stores set {code} …)")
    if report and not etl:
        raise ConfigError(f"store {code}: a report store must also be an ETL store")
    store = StoreMaster(
        store_code=code,
        store_name=name,
        etl_flag=etl,
        report_flag=report,
        gstin=gstin,
        launch_date=launch_date,
        is_active=True,
    )
    session.add(store)
    await session.flush()
    return store


async def update_store(
    session: AsyncSession,
    code: str,
    *,
    name: str | None = None,
    etl: bool | None = None,
    report: bool | None = None,
    active: bool | None = None,
) -> StoreMaster:
    store = await get_store(session, code)
    if store is None:
        raise ConfigError(f"store {normalise_store_code(code)} does not exist (crm stores add {code})")
    if name is not None:
        refuse_control_characters(name, "store name")  # before strip(): a trailing line break is refused too
        store.store_name = name.strip() or None
    if etl is not None:
        store.etl_flag = etl
    if report is not None:
        store.report_flag = report
    if active is not None:
        store.is_active = active
    if store.report_flag and not store.etl_flag:
        raise ConfigError(f"store {store.store_code}: a report store must also be an ETL store")
    store.updated_at = datetime.now(UTC)
    await session.flush()
    return store


async def add_recipient(
    session: AsyncSession,
    profile_code: str,
    email: str,
    *,
    pipeline_code: str | None = None,
    store_code: str | None = None,
    send_as: str = "to",
    env: str = "any",
    display_name: str | None = None,
) -> list[tuple[str, str]]:
    """Add an address to a profile; without a pipeline, to every pipeline that has that profile.

    Returns the (pipeline, profile) pairs it was added to; an existing identical row is not duplicated.
    """
    refuse_control_characters(email, "recipient email address")
    refuse_control_characters(display_name, "recipient display name")
    email = email.strip()
    if not EMAIL_RE.match(email):
        raise ConfigError(f"{email!r} is not an email address")
    if send_as not in SEND_AS:
        raise ConfigError(f"send_as must be one of {', '.join(SEND_AS)}")
    if env not in ENVS:
        raise ConfigError(f"env must be one of {', '.join(ENVS)}")
    store = normalise_store_code(store_code) if store_code else None
    if store is not None and await find_store(session, store) is None:
        # A recipient of a store that does not exist would never get an email.
        raise ConfigError(f"store {store} does not exist (crm stores add {store} first)")
    query = (
        select(NotificationProfile, Pipeline.code)
        .join(Pipeline, Pipeline.id == NotificationProfile.pipeline_id)
        .where(NotificationProfile.code == profile_code)
    )
    if pipeline_code:
        query = query.where(Pipeline.code == pipeline_code)
    matches = (await session.execute(query)).all()
    if not matches:
        known = (await session.execute(select(NotificationProfile.code).distinct())).scalars().all()
        raise ConfigError(f"no notification profile {profile_code!r} (known: {', '.join(sorted(known))})")
    added: list[tuple[str, str]] = []
    for profile, pipeline in matches:
        exists = await session.execute(
            select(NotificationRecipient.id).where(
                NotificationRecipient.profile_id == profile.id,
                func.lower(NotificationRecipient.email_address) == email.lower(),
                NotificationRecipient.store_code.is_(None)
                if store is None
                else NotificationRecipient.store_code == store,
                NotificationRecipient.env == env,
            )
        )
        if exists.first() is None:
            session.add(
                NotificationRecipient(
                    profile_id=profile.id,
                    store_code=store,
                    env=env,
                    email_address=email,
                    display_name=display_name,
                    send_as=send_as,
                    is_active=True,
                )
            )
        added.append((pipeline, profile.code))
    await session.flush()
    return added


async def list_recipients(session: AsyncSession) -> list[tuple[str, str, NotificationRecipient]]:
    query = (
        select(Pipeline.code, NotificationProfile.code, NotificationRecipient)
        .join(NotificationProfile, NotificationProfile.id == NotificationRecipient.profile_id)
        .join(Pipeline, Pipeline.id == NotificationProfile.pipeline_id)
        .order_by(Pipeline.code, NotificationProfile.code, NotificationRecipient.id)
    )
    return [(p, c, r) for p, c, r in (await session.execute(query)).all()]
