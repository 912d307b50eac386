"""`crm stores list|add|set`: the stores of `store_master` and their flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crm_core.cli.support import out, run_async, settings_or_exit, shown

if TYPE_CHECKING:
    from crm_core.db.models import StoreMaster

app = typer.Typer(help="Manage stores (store_master).", no_args_is_help=True)


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


@app.command("list")
def list_() -> None:
    """Show every store with its flags."""
    from rich.table import Column, Table

    from crm_core.db.engine import session_scope
    from crm_core.db.stores import list_stores

    settings = settings_or_exit()

    async def _go() -> list[StoreMaster]:
        async with session_scope(settings) as session:
            return await list_stores(session)

    rows = run_async(_go())
    # Codes, GSTINs and dates never get cut; a long name wraps instead.
    table = Table(
        Column("code", no_wrap=True),
        Column("name", overflow="fold"),
        *(Column(h, no_wrap=True) for h in ("etl", "report", "active", "gstin", "launch date")),
    )
    for s in rows:
        table.add_row(
            *(
                shown(v)
                for v in (
                    s.store_code,
                    s.store_name or "",
                    _yes_no(s.etl_flag),
                    _yes_no(s.report_flag),
                    _yes_no(s.is_active),
                    s.gstin or "",
                    s.launch_date.isoformat() if s.launch_date else "",
                )
            )
        )
    out.print(table if rows else "no stores yet (crm stores add CODE)")


@app.command("add")
def add(
    code: str,
    name: Annotated[str | None, typer.Option(help="display name, e.g. 'Kirti Nagar, Delhi'")] = None,
    etl: Annotated[bool, typer.Option("--etl/--no-etl", help="download and ingest daily")] = True,
    report: Annotated[bool, typer.Option("--report/--no-report", help="daily PDF and emails")] = False,
) -> None:
    """Add a store (ETL on by default)."""
    from crm_core.db.engine import session_scope
    from crm_core.db.stores import add_store

    settings = settings_or_exit()

    async def _go() -> str:
        async with session_scope(settings) as session:
            store = await add_store(session, code, name=name, etl=etl, report=report)
            return store.store_code

    added = run_async(_go())
    out.print(shown(f"added store {added} (etl={_yes_no(etl)}, report={_yes_no(report)})"), highlight=False)


@app.command("set")
def set_(
    code: str,
    name: Annotated[
        str | None, typer.Option(help="display name (an empty name falls back to the code)")
    ] = None,
    etl: Annotated[
        bool | None, typer.Option("--etl/--no-etl", help="scrape and ingest this store's data (or stop)")
    ] = None,
    report: Annotated[
        bool | None,
        typer.Option("--report/--no-report", help="produce this store's PDFs and emails (needs --etl)"),
    ] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="include the store in runs (or leave it out)")
    ] = None,
) -> None:
    """Change a store's name or flags; options not given stay as they are."""
    from crm_core.db.engine import session_scope
    from crm_core.db.stores import update_store

    settings = settings_or_exit()

    async def _go() -> tuple[str, bool, bool, bool]:
        async with session_scope(settings) as session:
            s = await update_store(session, code, name=name, etl=etl, report=report, active=active)
            return s.store_code, s.etl_flag, s.report_flag, s.is_active

    store_code, is_etl, is_report, is_active = run_async(_go())
    out.print(
        shown(f"store {store_code}: etl={is_etl} report={is_report} active={is_active}"), highlight=False
    )
