"""The `crm` command. Exit codes: 0 ok, 1 run failed, 2 bad configuration or prerequisites.

One module per command group. Each imports only typer and rich at the top and its domain modules inside
the commands, so `crm --help` and the quick commands never load Prefect, Playwright, polars or reportlab.
"""

from __future__ import annotations

import os
import sys

import typer

from crm_core.cli import (
    blocks,
    db,
    demo,
    housekeeping,
    ingest,
    notifications,
    portal,
    recipients,
    run,
    sandbox,
    status,
    stores,
)
from crm_core.cli.support import console, shown

app = typer.Typer(
    name="crm",
    help="TSV CRM backend: portal exports, ingest, reports and notifications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.add_typer(db.app, name="db")
app.add_typer(stores.app, name="stores")
app.add_typer(recipients.app, name="recipients")
app.add_typer(blocks.app, name="blocks")
app.add_typer(notifications.app, name="notifications")
app.add_typer(portal.app, name="portal")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(run.app, name="run")
app.command("demo")(demo.demo)
app.command("ingest")(ingest.ingest)
app.command("status")(status.status)
app.command("housekeeping")(housekeeping.housekeeping)


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
        from crm_core.json_logger import describe_exception

        console.print(f"[bold red]error:[/] {shown(describe_exception(exc))}", highlight=False)
        sys.exit(1)


__all__ = ["app", "main"]
