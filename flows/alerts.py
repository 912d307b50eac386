"""The alert flow: the automations declared with the deployments (prefect.yaml) run it when a pipeline run
fails or crashes, and when a daily run has not completed by its expected time plus the grace period. It
emails through the notification engine (self-hosted Prefect has no email action); the automation and this
flow's runs are what the Prefect UI shows of a missed run."""

from __future__ import annotations

from prefect import flow

from crm_core.notify.alerts import AlertKind
from tasks.alerts import read_watched_run, send_run_alert


@flow(
    name="pipeline-alert",
    description="Email an alert about a failed, crashed or missed pipeline run.",
    persist_result=False,
    validate_parameters=True,
)
async def alert_flow(flow_run_id: str, kind: AlertKind = AlertKind.FAILED) -> str:
    """`flow_run_id`: the run the alert is about (`prefect.flow-run.<uuid>` from the event, or the uuid);
    `kind`: failed (it ended Failed/Crashed) or missed (not completed in time)."""
    run = await read_watched_run(flow_run_id)
    return await send_run_alert(run, kind)
