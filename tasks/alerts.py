"""Flow failure/crash hooks: self-hosted Prefect has no email action, so the flow emails the alert."""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.flows import FlowStateHook
from prefect.logging.loggers import flow_run_logger

from crm_core.blocks import resolve_block_secrets
from crm_core.db.engine import engine_from_settings
from crm_core.json_logger import describe_exception, redact_text
from crm_core.notify.alerts import send_flow_alert
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
