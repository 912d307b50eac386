"""`crm housekeeping [--dry-run]`: apply the retention settings (also the weekly housekeeping deployment)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from crm_core.cli.support import out, run_async, settings_or_exit

DryRun = Annotated[
    bool, typer.Option("--dry-run", "--dry_run", help="list what would be deleted; change nothing")
]


def housekeeping(dry_run: DryRun = False) -> None:
    """Delete report PDFs, outbox emails, login artifacts, kept downloads, run summaries and email log rows
    older than their RETENTION_*_DAYS; rotate JSON_LOG_FILE. Deleted PDFs' documents rows are marked."""
    from crm_core.db.engine import open_engine
    from crm_core.db.migrate import require_head
    from crm_core.housekeeping import housekeeping as sweep

    settings = settings_or_exit()

    async def _go() -> list[str]:
        async with open_engine(settings) as engine:
            await require_head(engine)
            return (await sweep(engine, settings, dry_run=dry_run)).lines()

    for line in run_async(_go()):
        out.print(escape(line), highlight=False)
    if dry_run:
        out.print("dry run: nothing deleted or changed")
