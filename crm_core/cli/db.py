"""`crm db upgrade|check`: the schema, without writing SQL."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_core.cli.support import out, run_async, settings_or_exit, shown

app = typer.Typer(help="Database schema: migrate and check.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from crm_core.db import migrate
    from crm_core.db.engine import open_engine

    settings = settings_or_exit()

    async def _go() -> str | None:
        async with open_engine(settings) as engine:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)

    current = run_async(_go())
    out.print(shown(f"database {settings.db_url_redacted} is at revision {current}"), highlight=False)


@app.command("check")
def check() -> None:
    """Verify schema, seeds, stores and recipients; exit 1 listing every finding."""
    from crm_core.db.checks import run_checks
    from crm_core.db.engine import open_engine

    settings = settings_or_exit()

    async def _go() -> list[str]:
        async with open_engine(settings) as engine:
            return await run_checks(engine)

    findings = run_async(_go())
    for finding in findings:
        out.print(shown(f"[db-check] FAIL {finding}"), highlight=False)
    if findings:
        out.print(f"[db-check] {len(findings)} finding(s)", markup=False)
        raise typer.Exit(1)
    out.print("[db-check] OK: schema current, seeds, stores and recipients in place", markup=False)
