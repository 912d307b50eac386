"""The daily deployment for real: a local Prefect server and process worker, `prefect deploy --all` from
prefect.yaml, `prefect deployment run` with a report date, and the run's effects in PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import EmailSend, PipelineRunSummary
from crm_core.demo import seed_demo
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from tests.e2e.prefect_stack import PrefectStack, prefect_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
DAY = date(2025, 11, 19)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    with prefect_stack(tmp_path_factory.mktemp("prefect")) as running:
        yield running


async def test_deploy_from_prefect_yaml_and_run_with_a_report_date(
    stack: PrefectStack, pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)

    stack.cli("work-pool", "create", "crm-process", "--type", "process", "--overwrite")
    deployed = stack.cli("deploy", "--all")
    assert "dashboard-daily/daily" in deployed, deployed
    described = json.loads(stack.cli("deployment", "inspect", "dashboard-daily/daily", "--output", "json"))
    assert described["concurrency_limit"] == 1 or described.get("global_concurrency_limit")
    assert described["enforce_parameter_schema"] is True
    # A bad date is refused when the run is created, naming the parameter; no run is queued.
    with pytest.raises(AssertionError, match="report_date") as refused:
        stack.cli("deployment", "run", "dashboard-daily/daily", "--param", "report_date=notadate")
    assert "Created flow run" not in str(refused.value)
    schedule = described["schedules"][0]["schedule"]
    assert schedule["cron"] == "30 7 * * *" and schedule["timezone"] == "Asia/Kolkata"

    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as sim:
        stack.start_worker("crm-process", _worker_env(tmp_path, pg_url, sim, DEMO_PASSWORD))
        flow_run_id = stack.run_deployment("dashboard-daily/daily", {"report_date": DAY.isoformat()})
        run = stack.wait_for(flow_run_id, timeout=300)
    worker_log = (stack.home / "worker.log").read_text(errors="replace")[-3000:]
    assert run["state_type"] == "COMPLETED", worker_log

    async with session_factory(engine)() as session:
        summary = (
            await session.execute(select(PipelineRunSummary).where(PipelineRunSummary.run_id == flow_run_id))
        ).scalar_one()
    await engine.dispose()
    assert summary.report_date == DAY
    assert summary.overall_status == "ok", summary.summary_text
    assert summary.metrics_json["pdf"]["generated"] == 2
    assert summary.metrics_json["email"]["transport"] == "outbox"
    assert len(list((tmp_path / "home" / "outbox").rglob("*.eml"))) == 3


async def test_weekly_deployment_backfills_one_week(stack: PrefectStack, pg_url: str, tmp_path: Path) -> None:
    """`prefect deployment run 'dashboard-weekly/weekly' --param period=…`: that week's PDFs and summary."""
    from datetime import timedelta

    from crm_core.demo import seed_dashboard_history
    from crm_core.periods import last_complete_period

    week = last_complete_period("week")
    engine = make_engine(pg_url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
        await seed_dashboard_history(session, week.end + timedelta(days=1), days=14)

    stack.cli("work-pool", "create", "crm-process", "--type", "process", "--overwrite")
    stack.cli("deploy", "--all")
    described = json.loads(stack.cli("deployment", "inspect", "dashboard-weekly/weekly", "--output", "json"))
    assert described["concurrency_options"]["collision_strategy"] == "ENQUEUE", described
    assert described["schedules"][0]["schedule"]["cron"] == "0 8 * * 1"

    stack.start_worker("crm-process", {"CRM_HOME": str(tmp_path / "home"), "DATABASE_URL": pg_url})
    flow_run_id = stack.run_deployment("dashboard-weekly/weekly", {"period": week.start.isoformat()})
    run = stack.wait_for(flow_run_id, timeout=300)
    worker_log = (stack.home / "worker.log").read_text(errors="replace")[-3000:]
    assert run["state_type"] == "COMPLETED", worker_log

    async with session_factory(engine)() as session:
        summaries = (
            (
                await session.execute(
                    select(PipelineRunSummary).where(PipelineRunSummary.pipeline_name == "dashboard_weekly")
                )
            )
            .scalars()
            .all()
        )
    await engine.dispose()
    assert [(s.run_id, s.report_date, s.period_start) for s in summaries] == [
        (flow_run_id, week.end, week.start)
    ]
    assert summaries[0].metrics_json["pdf"]["generated"] == 3


def _worker_env(tmp_path: Path, pg_url: str, sim: SandboxServer, password: str) -> dict[str, str]:
    return {
        "CRM_HOME": str(tmp_path / "home"),
        # The simulator's portal stands at DAY: the day after is "today" for these runs.
        "CRM_TODAY": (DAY + timedelta(days=1)).isoformat(),
        "DATABASE_URL": pg_url,
        "PORTAL_BASE_URL": sim.portal_origin,
        "PORTAL_TMS_URL": sim.tms_origin,
        "PORTAL_USERNAME": DEMO_USERNAME,
        "PORTAL_PASSWORD": password,
    }


async def _sends(pg_url: str) -> list[tuple[str, str, str | None, str]]:
    engine = make_engine(pg_url)
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(EmailSend.run_id, EmailSend.profile_code, EmailSend.store_code, EmailSend.status)
        )
        sends = [(str(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]
    await engine.dispose()
    return sends


async def test_backfill_runs_queue_and_a_retried_run_sends_nothing_twice(
    stack: PrefectStack, pg_url: str, tmp_path: Path
) -> None:
    """Three runs started back to back all complete (ENQUEUE waits, never cancels); a failed run put back to
    Scheduled, as the UI's Retry does, runs again and completes without repeating the emails it sent."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Scheduled

    engine = make_engine(pg_url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
    await engine.dispose()
    stack.cli("work-pool", "create", "crm-process", "--type", "process", "--overwrite")
    stack.cli("deploy", "--all")
    outbox = tmp_path / "home" / "outbox"

    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as sim:
        stack.start_worker("crm-process", _worker_env(tmp_path, pg_url, sim, DEMO_PASSWORD))
        ids = [
            stack.run_deployment("dashboard-daily/daily", {"report_date": DAY.isoformat()}) for _ in range(3)
        ]
        states = [stack.wait_for(flow_run_id, timeout=300)["state_type"] for flow_run_id in ids]
        assert states == ["COMPLETED"] * 3, (stack.home / "worker.log").read_text(errors="replace")[-3000:]
        engine = make_engine(pg_url)
        async with session_factory(engine)() as session:
            stored = (await session.execute(select(PipelineRunSummary.run_id))).scalars().all()
        await engine.dispose()
        assert sorted(stored) == sorted(ids)  # one summary per run
        # The first run sent the date's three emails; the two after it found them sent.
        assert len(list(outbox.rglob("*.eml"))) == 3

        # A wrong portal password: the run ends Failed after its summary email went out.
        for saved in (tmp_path / "home").rglob("storage_state.json"):
            saved.unlink()  # or the saved session would spare the login
        stack.start_worker("crm-process", _worker_env(tmp_path, pg_url, sim, "wrong-password"))
        failed_id = stack.run_deployment("dashboard-daily/daily", {"report_date": DAY.isoformat()})
        assert stack.wait_for(failed_id, timeout=300)["state_type"] == "FAILED"
        first_attempt = [s for s in await _sends(pg_url) if s[0] == failed_id]
        assert [s[1:] for s in first_attempt] == [("run_summary", "", "outbox")]
        emails_before = len(list(outbox.rglob("*.eml")))

        # The password fixed, the operator retries the same flow run.
        stack.start_worker("crm-process", _worker_env(tmp_path, pg_url, sim, DEMO_PASSWORD))
        with temporary_settings({PREFECT_API_URL: stack.api_url}):
            async with get_client() as client:
                await client.set_flow_run_state(UUID(failed_id), Scheduled(), force=True)
        retried = stack.wait_for(failed_id, timeout=300)
    assert retried["state_type"] == "COMPLETED", (stack.home / "worker.log").read_text(errors="replace")[
        -3000:
    ]
    after = [s for s in await _sends(pg_url) if s[0] == failed_id]
    assert len(after) == len(set(after)) and ("run_summary", "", "outbox") in [s[1:] for s in after]
    # Every email on record went out once: none of the first attempt's was written again.
    assert len(list(outbox.rglob("*.eml"))) == emails_before + len(after) - len(first_attempt)
    assert len(list(outbox.rglob("*.eml"))) == sum(1 for s in await _sends(pg_url) if s[3] == "outbox")
