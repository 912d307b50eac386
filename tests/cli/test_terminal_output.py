"""Names from the database or the portal printed by `crm`: control characters removed (no cursor moves,
screen clears or fake lines) and rich markup shown as typed, through the one helper `shown`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import insert

from crm_core.cli.support import shown
from crm_core.db.engine import make_engine
from crm_core.db.models import StoreMaster

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py
HOSTILE = "Kirti\x1b[2J\x1b]0;owned\x07 [red]Nagar[/red]\r\nFAKE: ok\u202e"


def test_shown_removes_control_characters_and_escapes_markup() -> None:
    assert shown(HOSTILE) == "Kirti[2J]0;owned \\[red]Nagar\\[/red]FAKE: ok"
    assert shown("line 1\x1b[1m\nline [b]2[/b]", multiline=True) == "line 1[1m\nline \\[b]2\\[/b]"
    assert shown(42) == "42"


def test_store_and_recipient_names_print_as_typed_without_control_characters(
    crm: Crm, empty_db_env: dict[str, str], db_url: str
) -> None:
    crm(empty_db_env, "db", "upgrade")
    assert crm(empty_db_env, "stores", "add", "A817", "--name", HOSTILE)[0] == 2  # refused when stored

    async def stored_past_the_cli() -> None:
        # As another program or hand-written SQL would: no model, no validator.
        engine = make_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    insert(StoreMaster.__table__).values(  # type: ignore[arg-type]
                        store_code="A817",
                        store_name=HOSTILE,
                        etl_flag=True,
                        report_flag=False,
                        is_active=True,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(stored_past_the_cli())
    code, output = crm(
        empty_db_env, "recipients", "add", "run_summary", "boss@example.com", "--name", "[b]Boss[/b]"
    )
    assert code == 0, output
    for command in (("stores", "list"), ("recipients", "list")):
        code, output = crm(empty_db_env, *command)
        assert code == 0, output
        assert not any(c in output for c in "\x1b\x07\r\u202e"), repr(output)
    code, output = crm(empty_db_env, "stores", "list")
    flat = " ".join(output.replace("│", " ").split())  # the table may wrap the name over lines
    assert "[red]Nagar[/red]" in flat and "FAKE: ok" in flat
    assert "FAKE" not in [line.strip("│ ").split(":")[0] for line in output.splitlines()]
    code, output = crm(empty_db_env, "recipients", "list")
    assert '"[b]Boss[/b]" <boss@example.com>' in output
