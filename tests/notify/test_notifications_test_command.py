"""`crm notifications test` on the default setup (outbox mode) passes with a note, still fails on real
findings, and says so when the run belongs to another pipeline."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from crm_core.cli import app
from crm_core.settings import Settings
from tests.notify.test_notifications import REPORT_DATE, RUN


def _invoke(settings: Settings, pipeline: str, run_id: str) -> tuple[int, str]:
    env = {"CRM_HOME": str(settings.home), "DATABASE_URL": settings.db_url, "COLUMNS": "300"}
    result = CliRunner().invoke(
        app, ["notifications", "test", "--pipeline", pipeline, "--run-id", run_id], env=env
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


async def notifications_test(settings: Settings, pipeline: str, run_id: str) -> tuple[int, str]:
    # The command runs its own event loop: off the test's loop, as from a terminal.
    return await asyncio.to_thread(_invoke, settings, pipeline, run_id)


async def test_outbox_mode_is_a_note_and_real_findings_still_fail(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    _, settings = seeded
    code, output = await notifications_test(settings, "dashboard_daily", RUN)
    assert code == 0, output
    assert "[notifications-test] note: SMTP_HOST is not set: outbox mode" in output
    assert "[notifications-test] OK" in output

    (settings.reports_path / f"A817_{REPORT_DATE}.pdf").unlink()
    code, output = await notifications_test(settings, "dashboard_daily", RUN)
    assert code == 1 and "A817" in output, output


async def test_a_run_of_another_pipeline_is_named(seeded: tuple[AsyncEngine, Settings]) -> None:
    _, settings = seeded
    code, output = await notifications_test(settings, "dashboard_weekly", RUN)
    assert code == 1
    assert f"run {RUN} belongs to pipeline dashboard_daily, not dashboard_weekly" in output, output
    assert "--pipeline dashboard_daily" in output
    assert "No notification emails would be scheduled" not in output
