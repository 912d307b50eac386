"""Alerts: the flows' failure/crash hooks, and the alert flow's steps (the automations in prefect.yaml run
it for failed, crashed and missed runs). Self-hosted Prefect has no email action, so a flow emails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import Flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.flows import FlowStateHook
from prefect.logging.loggers import flow_run_logger

from crm_core.blocks import resolve_block_secrets
from crm_core.db.engine import engine_from_settings
from crm_core.json_logger import describe_exception, redact_text
from crm_core.notify.alerts import AlertKind, WatchedRun, alert_for_run, send_flow_alert
from crm_core.pipelines import Pipeline
from crm_core.settings import load_settings


def alert_hook(pipeline: Pipeline) -> FlowStateHook[..., Any]:
    """A hook that emails the run-summary recipients of `pipeline` when a run fails or crashes.
    A dry run promised to send and write nothing: its failure goes to the run's log only."""

    async def send_alert(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
        log = flow_run_logger(flow_run, flow)
        message = redact_text(state.message or "no message")
        if flow_run.parameters.get("dry_run"):
            log.error("dry run %s: %s (no alert email sent)", state.name, message)
            return
        try:
            settings = await resolve_block_secrets(load_settings())
            engine = engine_from_settings(settings)
            try:
                outcome = await send_flow_alert(
                    engine, settings, pipeline, str(flow_run.id), str(state.name), message
                )
            finally:
                await engine.dispose()
        except Exception as exc:  # the hook must never hide the run's own failure
            log.error("failure alert not sent: %s", describe_exception(exc))
        else:
            log.info("failure alert: %s", outcome)

    send_alert.__name__ = f"alert_{pipeline.code}"
    return send_alert


def flow_run_uuid(resource_id: str) -> UUID:
    """The flow run of an event's resource id (`prefect.flow-run.<uuid>`), or a bare uuid."""
    return UUID(resource_id.strip().removeprefix("prefect.flow-run."))


@task(name="read-watched-run", cache_policy=NONE, persist_result=False)
async def read_watched_run(resource_id: str) -> WatchedRun:
    """The flow run an automation fired for, as the alert needs it."""
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_uuid(resource_id))
        flow = await client.read_flow(run.flow_id)
    state = run.state
    return WatchedRun(
        flow_run_id=str(run.id),
        flow_name=flow.name,
        state_type=state.type.value if state else "UNKNOWN",
        state_name=str(state.name) if state else "Unknown",
        message=(state.message or "") if state else "",
        expected_at=run.expected_start_time,
        dry_run=bool(run.parameters.get("dry_run")),
    )


@task(name="send-run-alert", cache_policy=NONE, persist_result=False)
async def send_run_alert(run: WatchedRun, kind: AlertKind) -> str:
    """`alert_for_run` with the run's settings (secrets from blocks when named); logs the outcome."""
    settings = await resolve_block_secrets(load_settings())
    engine = engine_from_settings(settings)
    try:
        outcome = await alert_for_run(engine, settings, run, kind, datetime.now(UTC))
    finally:
        await engine.dispose()
    get_run_logger().info("alert: %s", outcome)
    return outcome
