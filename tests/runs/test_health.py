"""`crm status`: which run is expected when (schedule plus grace, business time zone), and the verdict from
the stored run summaries, on both databases and through the command."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import PipelineRunSummary
from crm_core.pipelines import DAILY, MONTHLY, WEEKLY
from crm_core.runs.health import expected_period, pipeline_health
from crm_core.settings import Settings

IST = ZoneInfo("Asia/Kolkata")


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=IST)


@pytest.mark.parametrize(
    ("pipeline", "now", "label"),
    [
        # Daily at 07:30 + 3 h grace: before 10:30 the run for T-1 is not due yet, T-2's is expected.
        (DAILY, at("2026-11-30", "10:29"), "2026-11-28"),
        (DAILY, at("2026-11-30", "10:30"), "2026-11-29"),
        (DAILY, at("2026-11-30", "00:10"), "2026-11-28"),
        # Weekly on Monday 08:00: the week that ended yesterday from Monday 11:00 on.
        (WEEKLY, at("2026-11-30", "10:59"), "2026-11-16_to_2026-11-22"),
        (WEEKLY, at("2026-11-30", "11:00"), "2026-11-23_to_2026-11-29"),
        (WEEKLY, at("2026-12-03", "09:00"), "2026-11-23_to_2026-11-29"),
        # Monthly on the 1st at 08:30.
        (MONTHLY, at("2026-12-01", "11:29"), "2026-10"),
        (MONTHLY, at("2026-12-01", "11:30"), "2026-11"),
    ],
)
def test_expected_period_follows_the_schedule_plus_grace(
    settings: Settings, pipeline: object, now: datetime, label: str
) -> None:
    assert expected_period(pipeline, settings, now.astimezone(UTC)).label == label  # type: ignore[arg-type]


def row(
    run_id: str, pipeline: str, end: date, status: str, started: datetime, **metrics: object
) -> PipelineRunSummary:
    return PipelineRunSummary(
        pipeline_name=pipeline,
        run_id=run_id,
        run_env="dev",
        started_at=started,
        finished_at=started + timedelta(minutes=4),
        total_time_taken="00:04:07",
        report_date=end,
        period_start=None,
        overall_status=status,
        summary_text="-",
        metrics_json=metrics,
    )


async def seed(db: AsyncEngine | str, *rows: PipelineRunSummary) -> None:
    engine = make_engine(db) if isinstance(db, str) else db
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add_all(rows)
    finally:
        if isinstance(db, str):
            await engine.dispose()


async def test_health_missing_failed_and_ok(engine: AsyncEngine, settings: Settings) -> None:
    now = at("2026-11-30", "12:00").astimezone(UTC)
    async with session_factory(engine)() as session:
        empty = await pipeline_health(session, settings, now)
    assert [h.verdict for h in empty] == [
        "MISSING: no run for 2026-11-29",
        "MISSING: no run for 2026-11-23_to_2026-11-29",
        "MISSING: no run for 2026-10",
    ]
    started = now - timedelta(hours=4)
    daily_metrics = {"stores": {"failed": {"B100": "timeout"}, "report_failures": {"C200": "render"}}}
    await seed(
        engine,
        row("d1", DAILY.code, date(2026, 11, 29), "ok", started - timedelta(hours=1)),
        row("d2", DAILY.code, date(2026, 11, 29), "error", started, **daily_metrics),
        row("w1", WEEKLY.code, date(2026, 11, 29), "warning", started),
        row("m1", MONTHLY.code, date(2026, 10, 31), "ok", started - timedelta(days=30)),
    )
    async with session_factory(engine)() as session:
        health = {h.pipeline.code: h for h in await pipeline_health(session, settings, now)}
    daily = health[DAILY.code]
    # The latest run of the expected day failed, even though an earlier one was ok.
    assert not daily.healthy and daily.verdict == "FAILED: the run for 2026-11-29 ended error"
    assert daily.last is not None and daily.last.run_id == "d2"
    assert daily.last.failed_stores == ["B100", "C200"] and daily.last.duration == "00:04:07"
    assert health[WEEKLY.code].healthy and health[MONTHLY.code].healthy
    assert health[WEEKLY.code].as_json()["expected"] == {
        "period": "2026-11-23_to_2026-11-29",
        "report_date": "2026-11-29",
        "status": "warning",
    }
