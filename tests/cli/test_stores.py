"""`crm stores add|set`: the store rules, on both dialects."""

from __future__ import annotations

from collections.abc import Callable

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py


def test_store_rules(crm: Crm, empty_db_env: dict[str, str]) -> None:
    crm(empty_db_env, "db", "upgrade")
    assert crm(empty_db_env, "stores", "add", "A817", "--no-etl", "--report")[0] == 2
    assert crm(empty_db_env, "stores", "add", "not a code")[0] == 2
    assert crm(empty_db_env, "stores", "add", "A817")[0] == 0
    code, output = crm(empty_db_env, "stores", "add", "A817")
    assert code == 2 and "already exists" in output
    code, output = crm(empty_db_env, "stores", "set", "A817", "--report", "--name", "Kirti Nagar, Delhi")
    assert code == 0 and "report=True" in output
    code, output = crm(empty_db_env, "stores", "set", "A817", "--no-etl")
    assert code == 2 and "must also be an ETL store" in output
    assert crm(empty_db_env, "stores", "set", "B999", "--etl")[0] == 2


def test_a_database_without_tables_names_the_fix(crm: Crm, empty_db_env: dict[str, str]) -> None:
    """A database that was never migrated (here: its table dropped) is one line naming `crm db upgrade`."""
    import asyncio

    from sqlalchemy import text

    from crm_core.db.engine import make_engine

    async def drop() -> None:
        engine = make_engine(empty_db_env["DATABASE_URL"])
        async with engine.begin() as conn:
            cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
            await conn.execute(text(f"DROP TABLE store_master{cascade}"))
        await engine.dispose()

    asyncio.run(drop())
    code, output = crm(empty_db_env, "stores", "list")
    assert code == 2
    assert "has no tables (or an older schema): run `crm db upgrade`" in output
    assert "Traceback" not in output and "SELECT" not in output
