"""Events reach the Prefect run log (what the UI shows), redacted."""

from __future__ import annotations

import io
import logging

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


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@flow
def printing_flow(stream: io.StringIO) -> None:
    with events_to_prefect():
        run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
        EventLogger(run_id, "dashboard_daily", stream=stream).event(
            "download", "ok", "export downloaded (412 rows)", store_code="A668"
        )


def test_events_are_printed_once_during_a_flow_run() -> None:
    """Prefect's console handler sits on the root logger: events must not reach it as well."""
    root_seen = _Collect()
    root = logging.getLogger()
    root.addHandler(root_seen)
    stream = io.StringIO()
    try:
        printing_flow(stream)
    finally:
        root.removeHandler(root_seen)
    assert stream.getvalue().count("export downloaded (412 rows)") == 1
    assert not [r for r in root_seen.records if "export downloaded" in r.getMessage()]
    assert logging.getLogger("crm.events").propagate  # restored after the run
