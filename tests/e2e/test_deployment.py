"""The daily deployment for real: a local Prefect server and process worker, `prefect deploy --all` from
prefect.yaml, `prefect deployment run` with a report date, and the run's effects in PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import PipelineRunSummary
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
    schedule = described["schedules"][0]["schedule"]
    assert schedule["cron"] == "30 7 * * *" and schedule["timezone"] == "Asia/Kolkata"

    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as sim:
        stack.start_worker(
            "crm-process",
            {
                "CRM_HOME": str(tmp_path / "home"),
                # The simulator's portal stands at DAY: the day after is "today" for this run.
                "CRM_TODAY": (DAY + timedelta(days=1)).isoformat(),
                "DATABASE_URL": pg_url,
                "PORTAL_BASE_URL": sim.portal_origin,
                "PORTAL_TMS_URL": sim.tms_origin,
                "PORTAL_USERNAME": DEMO_USERNAME,
                "PORTAL_PASSWORD": DEMO_PASSWORD,
            },
        )
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
