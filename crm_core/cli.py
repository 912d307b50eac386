"""The `crm` command (DESIGN §2). Exit codes: 0 ok, 1 run failed, 2 bad configuration or prerequisites."""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from crm_core.blocks_cli import blocks_app
from crm_core.cli_support import console
from crm_core.db.cli import db_app, recipients_app, stores_app
from crm_core.ingest.cli import ingest_command
from crm_core.json_logger import describe_exception
from crm_core.notify.cli import notifications_app
from crm_core.portal.cli import portal_app, sandbox_app
from crm_core.run_cli import demo_command, run_app

app = typer.Typer(
    name="crm",
    help="TSV CRM backend: portal exports, ingest, reports and notifications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# --- sub-apps ---
app.add_typer(db_app, name="db")
app.add_typer(stores_app, name="stores")
app.add_typer(recipients_app, name="recipients")
app.add_typer(blocks_app, name="blocks")
app.add_typer(notifications_app, name="notifications")
app.add_typer(portal_app, name="portal")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(run_app, name="run")
app.command("demo")(demo_command)
app.command("ingest")(ingest_command)
# --- end sub-apps ---


def main() -> None:
    """Entry point: an unexpected error becomes one redacted line and exit 1 (CRM_DEBUG=1 shows it all)."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("CRM_DEBUG"):
            raise
        console.print(f"[bold red]error:[/] {escape(describe_exception(exc))}", highlight=False)
        sys.exit(1)
