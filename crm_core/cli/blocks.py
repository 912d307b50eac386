"""`crm blocks register|save-from-env`: the Prefect blocks that can hold the product's secrets."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_core.cli.support import out, run_async, settings_or_exit

app = typer.Typer(help="Prefect blocks holding DB, SMTP and portal secrets.", no_args_is_help=True)


@app.command("register")
def register() -> None:
    """Register the CRM block types with the Prefect server (PREFECT_API_URL)."""
    from crm_core.blocks import register_block_types  # Prefect: only in the commands that talk to it

    for slug in run_async(register_block_types()):
        out.print(f"registered block type {slug}")


@app.command("save-from-env")
def save_from_env(
    name: Annotated[str, typer.Option(help="block document name")] = "default",
) -> None:
    """Save DATABASE_URL, SMTP_* and PORTAL_* from the environment as blocks named NAME."""
    from crm_core.blocks import register_block_types, save_blocks_from_settings

    settings = settings_or_exit()

    async def _go() -> list[str]:
        await register_block_types()
        return await save_blocks_from_settings(settings, name)

    saved = run_async(_go())
    for ref in saved:
        out.print(f"saved block {ref}")
    if not saved:
        out.print("nothing to save: set DATABASE_URL, SMTP_HOST or PORTAL_USERNAME/PORTAL_PASSWORD first")
        raise typer.Exit(1)
    out.print(f"use them with CRM_DB_BLOCK={name} CRM_SMTP_BLOCK={name} CRM_PORTAL_BLOCK={name}")
