"""Recipients must name a store that exists, store names refuse control characters, and `crm db check`
reports recipients whose store is unknown (rows written before this rule, or past the CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import NotificationProfile, NotificationRecipient, StoreMaster

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py


def test_recipient_of_an_unknown_store_is_refused(crm: Crm, empty_db_env: dict[str, str]) -> None:
    assert crm(empty_db_env, "db", "upgrade")[0] == 0
    code, output = crm(
        empty_db_env, "recipients", "add", "store_daily_reports", "z@example.com", "--store", "zzz9"
    )
    assert code == 2, output
    assert "store ZZZ9 does not exist" in output and "Traceback" not in output
    code, output = crm(empty_db_env, "recipients", "list")
    assert "z@example.com" not in output
    assert crm(empty_db_env, "stores", "add", "ZZZ9")[0] == 0
    code, output = crm(
        empty_db_env, "recipients", "add", "store_daily_reports", "z@example.com", "--store", "zzz9"
    )
    assert code == 0, output


def test_db_check_reports_a_recipient_whose_store_is_unknown(
    crm: Crm, empty_db_env: dict[str, str], db_url: str
) -> None:
    assert crm(empty_db_env, "db", "upgrade")[0] == 0

    async def stray_recipient() -> int:
        engine = make_engine(db_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                profile = (
                    (
                        await session.execute(
                            select(NotificationProfile).where(
                                NotificationProfile.code == "store_daily_reports"
                            )
                        )
                    )
                    .scalars()
                    .first()
                )
                assert profile is not None
                row = NotificationRecipient(
                    profile_id=profile.id, store_code="A999", email_address="g@example.com"
                )
                session.add(row)
                await session.flush()
                return row.id
        finally:
            await engine.dispose()

    recipient_id = asyncio.run(stray_recipient())
    code, output = crm(empty_db_env, "db", "check")
    assert code == 1
    assert f"recipient {recipient_id} is for store A999, which does not exist" in output
    assert "g@example.com" not in output
    assert crm(empty_db_env, "stores", "add", "a999")[0] == 0
    code, output = crm(empty_db_env, "db", "check")
    assert "A999" not in output


def test_store_name_with_control_characters_is_refused(
    crm: Crm, empty_db_env: dict[str, str], db_url: str
) -> None:
    assert crm(empty_db_env, "db", "upgrade")[0] == 0
    assert crm(empty_db_env, "stores", "add", "A817", "--name", "Kirti Nagar")[0] == 0
    injected = "Kirti Nagar\r\nBcc: evil@example.net"
    for args in (("set", "A817", "--name", injected), ("add", "B200", "--name", injected)):
        code, output = crm(empty_db_env, "stores", *args)
        assert code == 2, output
        assert "store name contains control characters" in output and "evil@" not in output

    async def names() -> list[str | None]:
        engine = make_engine(db_url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.execute(select(StoreMaster.store_name))).scalars())
        finally:
            await engine.dispose()

    assert asyncio.run(names()) == ["Kirti Nagar"]


def test_stores_set_options_have_help(crm: Crm, empty_db_env: dict[str, str]) -> None:
    code, output = crm({**empty_db_env, "COLUMNS": "200"}, "stores", "set", "--help")
    assert code == 0
    for text in ("scrape and ingest", "PDFs and emails", "include the store in runs", "display name"):
        assert text in output, text
