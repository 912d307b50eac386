"""`crm status [--json]`: the last run of each pipeline; exit 1 when a pipeline's latest expected run is
missing or failed, so an outside cron or monitoring system can call it."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

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
        # One line per pipeline, so a monitoring system can grep it and a narrow terminal keeps it whole.
        for item in health:
            last = item.last
            if last is None:
                ran = "no run yet"
            else:
                when = last.started_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")
                failed = ", ".join(last.failed_stores) or "none"
                ran = (
                    f"last run {when} {last.status} (report date {last.report_date or '-'}, "
                    f"took {last.duration}, failed stores: {failed})"
                )
            # Not healthy: say which run was expected and when it was due, since before today's run is due
            # the expected one is the day before's (a fresh demo looks "missing" otherwise).
            why = f" ({item.why_expected})" if not item.healthy and item.why_expected else ""
            out.print(escape(f"{item.pipeline.code}: {item.verdict}{why}; {ran}"), highlight=False)
    if not healthy:
        raise typer.Exit(1)
