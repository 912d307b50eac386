"""The live progress display of runs started at a terminal, driven by the run's own events."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from crm_core.cli.progress import BUCKETS, EMAILS, PDFS, STORES, EventProgress, make_progress, run_progress
from crm_core.exports import enabled_exports
from crm_core.json_logger import EVENT_LOGGER_NAME, EventLogger


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100)


def test_events_drive_the_progress_of_a_daily_run() -> None:
    console = terminal()
    with run_progress(console) as progress:
        assert isinstance(progress, EventProgress)
        logger = EventLogger("run-1", "dashboard_daily", stream=None)
        logger.event("orchestrator", "info", "pipeline start", counts={"etl_stores": 3, "report_stores": 2})
        for store in ("A526", "A668", "A817"):
            logger.event("download", "ok", "store download completed", store_code=store)
        logger.event("download", "warn", "store download partial", store_code="A817")  # counted once
        for spec in enabled_exports():
            logger.event("audit", "ok", "audit ok: ", bucket=spec.bucket)
        logger.event("report", "ok", "store report rendered", store_code="A668")
        logger.event("report", "warning", "no data available for report date", store_code="A817")
        logger.event("report_email", "ok", "email run_summary/run written to outbox")
        logger.event(
            "report_email", "info", "email store_daily_reports/A668 already sent for this run, skipped"
        )

        assert (progress.completed(STORES), progress.total(STORES)) == (3, 3)
        assert (progress.completed(BUCKETS), progress.total(BUCKETS)) == (len(enabled_exports()),) * 2
        assert (progress.completed(PDFS), progress.total(PDFS)) == (2, 2)
        assert (progress.completed(EMAILS), progress.total(EMAILS)) == (2, None)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "stores downloaded" in shown and "3/3" in shown and "PDFs rendered" in shown
    assert not logging.getLogger(EVENT_LOGGER_NAME).handlers  # removed when the run ends


def test_a_period_run_counts_each_period_s_pdfs() -> None:
    progress = EventProgress(make_progress(terminal()))
    for run_id in ("week-1", "week-2"):
        for store in ("A668", "A817", "ALL"):
            progress.update(
                {"run_id": run_id, "phase": "report", "message": "store report rendered", "store_code": store}
            )
    assert (progress.completed(PDFS), progress.total(PDFS)) == (6, None)


def test_no_display_when_the_console_is_not_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with run_progress(console) as progress:
        assert progress is None
        EventLogger("run-1", "dashboard_daily", stream=None).event("orchestrator", "info", "pipeline start")
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
