"""`crm notifications test|send`: diagnose and (re)send a run's emails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crm_core.cli.support import out, run_async, settings_or_exit, shown

if TYPE_CHECKING:
    from crm_core.runs.emails import CatchUp

app = typer.Typer(help="Diagnose and send notification emails.", no_args_is_help=True)


@app.command("test")
def test(
    pipeline: Annotated[str, typer.Option(help="pipeline code, e.g. dashboard_daily")],
    run_id: Annotated[str, typer.Option("--run-id", help="the run to check")],
) -> None:
    """List every reason an email of this run would not go out; exit 1 if there is any. Outbox mode (no
    SMTP_HOST) is a note, not a reason."""
    from crm_core.db.engine import open_engine
    from crm_core.notify.engine import delivery_notes, diagnose

    settings = settings_or_exit()

    async def _go() -> list[str]:
        async with open_engine(settings) as engine:
            return await diagnose(engine, settings, pipeline, run_id)

    findings = run_async(_go())
    for note in delivery_notes(settings):
        out.print(shown(f"[notifications-test] note: {note}"), highlight=False)
    for finding in findings:
        out.print(shown(f"[notifications-test] {finding}"), highlight=False)
    if findings:
        raise typer.Exit(1)
    out.print(
        "[notifications-test] OK: every planned email has recipients, a template and its files", markup=False
    )


@app.command("send")
def send(
    run_id: Annotated[str, typer.Option("--run-id", help="the run whose emails to send")],
    force: Annotated[bool, typer.Option(help="send again even what was already delivered")] = False,
) -> None:
    """Send the run's emails that were not delivered yet (all of them with --force)."""
    from crm_core.db.engine import open_engine
    from crm_core.runs.emails import catch_up_run_emails

    settings = settings_or_exit()

    async def _go() -> CatchUp | None:
        async with open_engine(settings) as engine:
            return await catch_up_run_emails(engine, settings, run_id, force=force)

    catch_up = run_async(_go())
    if catch_up is None:
        out.print(shown(f"no run summary for run {run_id}"), highlight=False)
        raise typer.Exit(1)
    if catch_up.summary_status is not None:
        out.print(f"run summary updated: status {catch_up.summary_status}", markup=False)
    outcome = catch_up.outcome
    out.print(
        f"{outcome.delivered} delivered, {outcome.already_sent} already sent, {outcome.failed} failed "
        f"of {outcome.planned} planned ({outcome.detail})",
        markup=False,
    )
    if outcome.failed:
        raise typer.Exit(1)
