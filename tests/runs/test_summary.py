"""The summary text layouts, rendered from a record."""

from __future__ import annotations

from datetime import timedelta

from crm_core.notify.engine import NotifyOutcome
from crm_core.pipelines import WEEKLY
from crm_core.runs.record import RunRecord
from crm_core.runs.summary import render
from crm_core.status import PhaseResult, Status
from tests.runs.conftest import DAY, STARTED, download, record_with


def test_daily_layout() -> None:
    record = record_with(download(failed_store="A817"))
    record.set_phase("report_email", NotifyOutcome(planned=3, delivered=3))
    record.finished_at = STARTED + timedelta(minutes=3, seconds=7)
    assert render(record) == "\n".join(
        [
            "Pipeline: dashboard_daily",
            "Run ID: run-1",
            "Env: dev",
            "Report Date: 2025-11-19",
            "Started: 2025-11-20T02:00:00Z  Finished: 2025-11-20T02:03:07Z  Duration: 00:03:07",
            "Status: warning",
            "",
            "Phases:",
            "- download: WARNING (2/3 stores)",
            "- report_email: OK (sent)",
            "",
            "Data:",
            "- Stores processed: A526, A668",
            "- Buckets:",
            "",
            "Issues:",
            "- store A817: download failed: missed_leads: HTTP 500",
        ]
    )


def test_period_layout_is_chosen_by_the_registry() -> None:
    record = RunRecord(WEEKLY, "run-w", "prod", report_date=DAY, started_at=STARTED, finished_at=STARTED)
    record.set_phase("db", PhaseResult(Status.OK))
    record.set_phase("report", PhaseResult(Status.ERROR, "1 PDFs", ("store A668: render failed",)))
    text = render(record)
    assert text.startswith("Pipeline: dashboard_weekly\nEnv: prod\nRun ID: run-w\n")
    assert "Overall Status: error" in text
    assert "- db: OK\n- report: ERROR\n" in text
    assert text.endswith("Details:\n- store A668: render failed")
