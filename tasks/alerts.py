"""Flow failure/crash hooks: self-hosted Prefect has no email action, so the flow emails (DOMAIN A8)."""

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
from crm_core.settings import load_settings


def alert_hook(pipeline_code: str) -> FlowStateHook[..., Any]:
    """A hook that emails the run-summary recipients of `pipeline_code` when a run fails or crashes."""

    async def send_alert(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
        log = flow_run_logger(flow_run, flow)
        try:
            settings = await resolve_block_secrets(load_settings())
            engine = engine_from_settings(settings)
            try:
                outcome = await send_flow_alert(
                    engine,
                    settings,
                    pipeline_code,
                    str(flow_run.id),
                    str(state.name),
                    redact_text(state.message or "no message"),
                )
            finally:
                await engine.dispose()
        except Exception as exc:  # the hook must never hide the run's own failure
            log.error("failure alert not sent: %s", describe_exception(exc))
        else:
            log.info("failure alert: %s", outcome)

    send_alert.__name__ = f"alert_{pipeline_code}"
    return send_alert
