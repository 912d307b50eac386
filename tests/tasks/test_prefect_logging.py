"""Events reach the Prefect run log (what the UI shows), redacted."""

from __future__ import annotations

import io

import pytest
from prefect import flow, get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.context import get_run_context

from crm_core.json_logger import EventLogger, register_secret
from tasks.prefect_logging import events_to_prefect

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow
def emitting_flow() -> str:
    with events_to_prefect():
        run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
        EventLogger(run_id, "dashboard_daily", stream=io.StringIO()).event(
            "download", "warn", "store skipped: password Bridge-Secret-77 rejected", store_code="A668"
        )
    return run_id


async def test_events_appear_in_the_flow_run_log() -> None:
    register_secret("Bridge-Secret-77")
    run_id = emitting_flow()
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))  # type: ignore[list-item]
        )
    messages = [log.message for log in logs]
    matching = [m for m in messages if "store skipped" in m]
    assert matching, messages
    assert "store=A668" in matching[0]
    assert "Bridge-Secret-77" not in "".join(messages)
