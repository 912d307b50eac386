"""`crm status [--json]`: the last run of each pipeline; exit 1 when a pipeline's latest expected run is
missing or failed, so an outside cron or monitoring system can call it."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from crm_core.cli.support import out, run_async, settings_or_exit

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def status(as_json: AsJson = False) -> None:
    """Last run of each pipeline (status, date, duration, failed stores) and whether the latest expected
    run is there; exit 1 when one is missing or failed."""
    from crm_core.db.engine import open_engine, session_factory
    from crm_core.runs.health import PipelineHealth, pipeline_health

    settings = settings_or_exit()

    async def _go() -> list[PipelineHealth]:
        async with open_engine(settings) as engine, session_factory(engine)() as session:
            return await pipeline_health(session, settings)

    health = run_async(_go())
    healthy = all(h.healthy for h in health)
    if as_json:
        print(json.dumps({"healthy": healthy, "pipelines": [h.as_json() for h in health]}))
    else:
        table = Table("pipeline", "last run", "status", "date", "duration", "failed stores", "expected run")
        for item in health:
            last = item.last
            table.add_row(
                item.pipeline.code,
                last.started_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if last else "-",
                last.status if last else "-",
                str(last.report_date or "-") if last else "-",
                last.duration if last else "-",
                escape(", ".join(last.failed_stores)) if last and last.failed_stores else "-",
                escape(item.verdict),
            )
        out.print(table)
    if not healthy:
        raise typer.Exit(1)
