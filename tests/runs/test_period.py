"""Which periods a weekly/monthly run produces, and the claim that keeps two runs off the same period:
real databases (SQLite and PostgreSQL), real summaries and dashboard rows."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import PipelineRunSummary, StoreMaster, store_dashboard_summary
from crm_core.demo import seed_demo
from crm_core.errors import ConfigError
from crm_core.periods import Period, month_of, week_of
from crm_core.pipelines import MONTHLY, WEEKLY
from crm_core.runs.period import claim_period, plan_periods, produced_since
from crm_core.settings import Settings

# Wednesday 2026-10-21 in Kolkata: the latest complete week is 10-12..10-18, the latest month September.
NOW = datetime(2026, 10, 21, 6, 0, tzinfo=UTC)
LAST_WEEK = week_of(date(2026, 10, 12))


async def seed(engine: AsyncEngine, first_day: date | None = None, days: int = 0) -> None:
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
        if first_day is None:
            return
        store_id = (
            await session.execute(select(StoreMaster.id).where(StoreMaster.store_code == "A668"))
        ).scalar_one()
        for n in range(days):
            await session.execute(
                store_dashboard_summary.insert().values(
                    store_id=store_id,
                    dashboard_date=first_day + timedelta(days=n),
                    run_date_time=NOW,
                    pickup_total_count=n,
                )
            )


async def summarise(
    engine: AsyncEngine, pipeline_code: str, period: Period, status: str, started: datetime
) -> None:
    async with session_factory(engine)() as session, session.begin():
        session.add(
            PipelineRunSummary(
                pipeline_name=pipeline_code,
                run_id=uuid.uuid4().hex,
                run_env="dev",
                started_at=started,
                finished_at=started,
                total_time_taken="00:00:01",
                report_date=period.end,
                period_start=period.start,
                overall_status=status,
                summary_text="",
            )
        )


async def test_catch_up_finds_every_missed_week_oldest_first_and_nothing_once_produced(
    engine: AsyncEngine, settings: Settings
) -> None:
    await seed(engine, date(2026, 9, 30), days=19)  # data from Wednesday 09-30 to 10-18
    async with session_factory(engine)() as session:
        plan = await plan_periods(session, settings, WEEKLY, now=NOW)
    assert [p.label for p in plan.periods] == [
        "2026-09-28_to_2026-10-04",
        "2026-10-05_to_2026-10-11",
        "2026-10-12_to_2026-10-18",
    ]
    assert plan.report_stores == ("A668", "A817") and plan.left == 0

    for i, period in enumerate(plan.periods):
        await summarise(engine, WEEKLY.code, period, ("ok", "warning", "ok")[i], NOW)
    async with session_factory(engine)() as session:
        again = await plan_periods(session, settings, WEEKLY, now=NOW)
        monthly = await plan_periods(session, settings, MONTHLY, now=NOW)
    assert again.periods == ()
    assert [(p.label, s) for p, s in again.done][-1] == ("2026-10-12_to_2026-10-18", "ok")
    # The monthly pipeline has its own summaries: September is still due.
    assert [p.label for p in monthly.periods] == ["2026-09"]


async def test_an_error_period_is_retried_and_max_periods_bounds_the_run(
    engine: AsyncEngine, settings: Settings
) -> None:
    await seed(engine, date(2026, 9, 28), days=21)
    weeks = [week_of(date(2026, 9, 28)), week_of(date(2026, 10, 5)), LAST_WEEK]
    await summarise(engine, WEEKLY.code, weeks[0], "ok", NOW - timedelta(days=10))
    await summarise(engine, WEEKLY.code, weeks[1], "ok", NOW - timedelta(days=3))
    await summarise(engine, WEEKLY.code, weeks[1], "error", NOW - timedelta(days=2))  # the latest counts
    async with session_factory(engine)() as session:
        plan = await plan_periods(session, settings, WEEKLY, now=NOW)
        bounded = await plan_periods(session, settings, WEEKLY, now=NOW, max_periods=1)
    assert plan.periods == (weeks[1], weeks[2])
    assert bounded.periods == (weeks[1],) and bounded.left == 1


async def test_reports_start_setting_and_a_targeted_period(
    engine: AsyncEngine, tmp_path: Path, db_url: str
) -> None:
    await seed(engine)  # stores, no dashboard data at all
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        crm_home=tmp_path / "home",
        database_url=db_url,
        crm_reports_start=date(2026, 10, 1),
    )
    async with session_factory(engine)() as session:
        plan = await plan_periods(session, settings, WEEKLY, now=NOW)
    assert [p.label for p in plan.periods] == [
        "2026-09-28_to_2026-10-04",
        "2026-10-05_to_2026-10-11",
        "2026-10-12_to_2026-10-18",
    ]
    september = month_of(date(2026, 9, 1))
    await summarise(engine, MONTHLY.code, september, "ok", NOW)
    async with session_factory(engine)() as session:
        skipped = await plan_periods(session, settings, MONTHLY, period=september, now=NOW)
        forced = await plan_periods(session, settings, MONTHLY, period=september, force=True, now=NOW)
        with pytest.raises(ConfigError, match="not complete yet"):
            await plan_periods(session, settings, MONTHLY, period=month_of(date(2026, 10, 1)), now=NOW)
    assert skipped.periods == () and skipped.done == ((september, "ok"),)
    assert forced.periods == (september,)


async def test_no_report_store_is_a_configuration_error(engine: AsyncEngine, settings: Settings) -> None:
    await seed(engine)
    async with session_factory(engine)() as session, session.begin():
        for store in (await session.execute(select(StoreMaster))).scalars():
            store.report_flag = False
    async with session_factory(engine)() as session:
        with pytest.raises(ConfigError, match="no stores are flagged for reporting"):
            await plan_periods(session, settings, WEEKLY, now=NOW)


async def test_a_claimed_period_is_refused_to_a_second_claimant_until_released(engine: AsyncEngine) -> None:
    async with claim_period(engine, WEEKLY, LAST_WEEK) as first:
        async with claim_period(engine, WEEKLY, LAST_WEEK) as second:
            assert first.held and not second.held
        # Another period and another pipeline are not blocked.
        async with claim_period(engine, WEEKLY, week_of(date(2026, 10, 5))) as other_week:
            assert other_week.held
        async with claim_period(engine, MONTHLY, month_of(date(2026, 9, 1))) as other_pipeline:
            assert other_pipeline.held
    async with claim_period(engine, WEEKLY, LAST_WEEK) as later:
        assert later.held


async def test_the_check_after_the_claim_sees_a_period_another_run_just_produced(engine: AsyncEngine) -> None:
    began = NOW
    assert await produced_since(engine, WEEKLY, LAST_WEEK, force=False, began=began) is None
    await summarise(engine, WEEKLY.code, LAST_WEEK, "ok", NOW - timedelta(days=1))
    assert await produced_since(engine, WEEKLY, LAST_WEEK, force=False, began=began) == "ok"
    # Forced: a summary from before this run is what it redoes; one produced since is another run's.
    assert await produced_since(engine, WEEKLY, LAST_WEEK, force=True, began=began) is None
    await summarise(engine, WEEKLY.code, LAST_WEEK, "warning", NOW + timedelta(seconds=5))
    assert await produced_since(engine, WEEKLY, LAST_WEEK, force=True, began=began) == "warning"
