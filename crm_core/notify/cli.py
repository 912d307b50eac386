"""`crm notifications test|send`: diagnose and (re)send a run's emails."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_core.cli_support import out, run_async, settings_or_exit
from crm_core.db.engine import open_engine, session_factory
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import NotifyOutcome, diagnose, send_notifications_for_run
from crm_core.runs.store import load_run_summary, record_email_catch_up

notifications_app = typer.Typer(help="Diagnose and send notification emails.", no_args_is_help=True)


@notifications_app.command("test")
def notifications_test(
    pipeline: Annotated[str, typer.Option(help="pipeline code, e.g. dashboard_daily")],
    run_id: Annotated[str, typer.Option("--run-id", help="the run to check")],
) -> None:
    """List every reason an email of this run would not go out; exit 1 if there is any."""
    settings = settings_or_exit()

    async def _go() -> list[str]:
        async with open_engine(settings) as engine:
            return await diagnose(engine, settings, pipeline, run_id)

    findings = run_async(_go())
    for finding in findings:
        out.print(f"[notifications-test] {finding}", markup=False, highlight=False)
    if findings:
        raise typer.Exit(1)
    out.print(
        "[notifications-test] OK: every planned email has recipients, a template and its files", markup=False
    )


@notifications_app.command("send")
def notifications_send(
    run_id: Annotated[str, typer.Option("--run-id", help="the run whose emails to send")],
    force: Annotated[bool, typer.Option(help="send again even what was already delivered")] = False,
) -> None:
    """Send the run's emails that were not delivered yet (all of them with --force)."""
    settings = settings_or_exit()

    async def _go() -> NotifyOutcome | None:
        async with open_engine(settings) as engine:
            async with session_factory(engine)() as session:
                summary = await load_run_summary(session, run_id)
            if summary is None:
                return None
            logger = EventLogger(run_id, summary.pipeline_name, file_path=settings.json_log_file)
            outcome = await send_notifications_for_run(
                engine, settings, summary.pipeline_name, run_id, logger, force=force
            )
            if outcome.delivered:  # the stored summary shows the email outcome as it is now (A8)
                async with session_factory(engine)() as session, session.begin():
                    status = await record_email_catch_up(session, run_id, outcome)
                out.print(f"run summary updated: status {status}", markup=False)
            return outcome

    outcome = run_async(_go())
    if outcome is None:
        out.print(f"no run summary for run {run_id}", markup=False)
        raise typer.Exit(1)
    out.print(
        f"{outcome.delivered} delivered, {outcome.already_sent} already sent, {outcome.failed} failed "
        f"of {outcome.planned} planned ({outcome.detail})",
        markup=False,
    )
    if outcome.failed:
        raise typer.Exit(1)
