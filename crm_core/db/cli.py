"""`crm db …`, `crm stores …` and `crm recipients …`: so that no one has to write SQL to run the product."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cli_support import fail, out, run_async, settings_or_exit
from crm_core.db import migrate, stores
from crm_core.db.checks import run_checks
from crm_core.db.engine import open_engine, session_factory
from crm_core.db.models import NotificationRecipient, StoreMaster
from crm_core.settings import Settings

db_app = typer.Typer(help="Database schema: migrate and check.", no_args_is_help=True)
stores_app = typer.Typer(help="Manage stores (store_master).", no_args_is_help=True)
recipients_app = typer.Typer(help="Manage notification recipients.", no_args_is_help=True)


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    async with open_engine(settings) as engine, session_factory(engine)() as session, session.begin():
        yield session


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = settings_or_exit()

    async def _go() -> str | None:
        async with open_engine(settings) as engine:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)

    current = run_async(_go())
    out.print(f"database {settings.db_url_redacted} is at revision {current}")


@db_app.command("check")
def db_check() -> None:
    """Verify schema, seeds, stores and recipients; exit 1 listing every finding."""
    settings = settings_or_exit()

    async def _go() -> list[str]:
        async with open_engine(settings) as engine:
            return await run_checks(engine)

    findings = run_async(_go())
    for finding in findings:
        out.print(f"[db-check] FAIL {finding}", markup=False, highlight=False)
    if findings:
        out.print(f"[db-check] {len(findings)} finding(s)", markup=False)
        raise typer.Exit(1)
    out.print("[db-check] OK: schema current, seeds, stores and recipients in place", markup=False)


@stores_app.command("list")
def stores_list() -> None:
    """Show every store with its flags."""
    settings = settings_or_exit()

    async def _go() -> list[StoreMaster]:
        async with _session(settings) as session:
            return await stores.list_stores(session)

    rows = run_async(_go())
    table = Table("code", "name", "etl", "report", "active", "gstin", "launch date")
    for s in rows:
        table.add_row(
            s.store_code,
            s.store_name or "",
            "yes" if s.etl_flag else "no",
            "yes" if s.report_flag else "no",
            "yes" if s.is_active else "no",
            s.gstin or "",
            s.launch_date.isoformat() if s.launch_date else "",
        )
    out.print(table if rows else "no stores yet (crm stores add CODE)")


@stores_app.command("add")
def stores_add(
    code: str,
    name: Annotated[str | None, typer.Option(help="display name, e.g. 'Kirti Nagar, Delhi'")] = None,
    etl: Annotated[bool, typer.Option("--etl/--no-etl", help="download and ingest daily")] = True,
    report: Annotated[bool, typer.Option("--report/--no-report", help="daily PDF and emails")] = False,
) -> None:
    """Add a store (ETL on by default)."""
    settings = settings_or_exit()

    async def _go() -> str:
        async with _session(settings) as session:
            store = await stores.add_store(session, code, name=name, etl=etl, report=report)
            return store.store_code

    added = run_async(_go())
    out.print(f"added store {added} (etl={'yes' if etl else 'no'}, report={'yes' if report else 'no'})")


@stores_app.command("set")
def stores_set(
    code: str,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    etl: Annotated[bool | None, typer.Option("--etl/--no-etl")] = None,
    report: Annotated[bool | None, typer.Option("--report/--no-report")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change a store's name or flags."""
    settings = settings_or_exit()

    async def _go() -> tuple[str, bool, bool, bool]:
        async with _session(settings) as session:
            s = await stores.update_store(session, code, name=name, etl=etl, report=report, active=active)
            return s.store_code, s.etl_flag, s.report_flag, s.is_active

    store_code, is_etl, is_report, is_active = run_async(_go())
    out.print(f"store {store_code}: etl={is_etl} report={is_report} active={is_active}")


@recipients_app.command("add")
def recipients_add(
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
    if cc and bcc:
        fail("choose one of --cc and --bcc")
    settings = settings_or_exit()

    async def _go() -> list[tuple[str, str]]:
        async with _session(settings) as session:
            return await stores.add_recipient(
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
        out.print(f"recipient on {pipeline_code}/{profile_code}", highlight=False)


@recipients_app.command("list")
def recipients_list() -> None:
    """Show every recipient."""
    settings = settings_or_exit()

    async def _go() -> list[tuple[str, str, NotificationRecipient]]:
        async with _session(settings) as session:
            return await stores.list_recipients(session)

    table = Table("pipeline", "profile", "store", "send as", "env", "address", "active")
    for pipeline_code, profile_code, r in run_async(_go()):
        table.add_row(
            pipeline_code,
            profile_code,
            r.store_code or "(all)",
            r.send_as,
            r.env,
            r.email_address,
            "yes" if r.is_active else "no",
        )
    out.print(table)
