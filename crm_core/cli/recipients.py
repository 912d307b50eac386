"""`crm recipients add|list`: who gets which notification email."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crm_core.cli.support import fail, out, run_async, settings_or_exit, shown

if TYPE_CHECKING:
    from crm_core.db.models import NotificationRecipient

app = typer.Typer(help="Manage notification recipients.", no_args_is_help=True)


@app.command("add")
def add(
    profile: Annotated[str, typer.Argument(help="profile code, e.g. run_summary or store_daily_reports")],
    email: str,
    store: Annotated[str | None, typer.Option(help="only for this store's emails")] = None,
    cc: Annotated[bool, typer.Option("--cc", help="send as Cc")] = False,
    bcc: Annotated[bool, typer.Option("--bcc", help="send as Bcc")] = False,
    pipeline: Annotated[
        str | None, typer.Option(help="only this pipeline (default: every one with PROFILE)")
    ] = None,
    env: Annotated[str, typer.Option(help="any, dev, prod or local")] = "any",
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Add a recipient to a notification profile."""
    from crm_core.db.engine import session_scope
    from crm_core.db.stores import add_recipient

    if cc and bcc:
        fail("choose one of --cc and --bcc")
    settings = settings_or_exit()

    async def _go() -> list[tuple[str, str]]:
        async with session_scope(settings) as session:
            return await add_recipient(
                session,
                profile,
                email,
                pipeline_code=pipeline,
                store_code=store,
                send_as="cc" if cc else "bcc" if bcc else "to",
                env=env,
                display_name=name,
            )

    for pipeline_code, profile_code in run_async(_go()):
        out.print(shown(f"recipient on {pipeline_code}/{profile_code}"), highlight=False)


@app.command("list")
def list_() -> None:
    """Show every recipient."""
    from rich.table import Column, Table

    from crm_core.db.engine import session_scope
    from crm_core.db.stores import list_recipients
    from crm_core.notify.plans import format_address

    settings = settings_or_exit()

    async def _go() -> list[tuple[str, str, NotificationRecipient]]:
        async with session_scope(settings) as session:
            return await list_recipients(session)

    # One table per pipeline/profile keeps each narrow enough that an 80-column terminal shows every
    # address whole (addresses never wrap or get cut).
    tables: dict[tuple[str, str], Table] = {}
    for pipeline_code, profile_code, r in run_async(_go()):
        table = tables.get((pipeline_code, profile_code))
        if table is None:
            table = Table(
                Column("store", no_wrap=True),
                Column("send as", no_wrap=True),
                Column("env", no_wrap=True),
                Column("address", no_wrap=True),
                Column("active", no_wrap=True),
                title=shown(f"{pipeline_code} / {profile_code}"),
                title_justify="left",
            )
            tables[pipeline_code, profile_code] = table
        table.add_row(
            *(
                shown(v)
                for v in (
                    r.store_code or "(all)",
                    r.send_as,
                    r.env,
                    format_address(r.email_address, r.display_name),
                    "yes" if r.is_active else "no",
                )
            )
        )
    for table in tables.values():
        out.print(table)
    if not tables:
        out.print("no recipients yet (crm recipients add PROFILE ADDRESS)")
