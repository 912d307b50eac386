"""Prefect tasks of the weekly and monthly flows: which periods to produce, and one period's PDFs.
Each wraps one crm_core call."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.periods import Period
from crm_core.pipelines import Pipeline
from crm_core.reports.period import render_period_reports
from crm_core.runs.period import PeriodPlan, plan_periods
from crm_core.settings import Settings
from tasks.common import TRANSIENT_RETRIES


@task(
    name="plan-periods",
    cache_policy=NONE,
    persist_result=False,
    **TRANSIENT_RETRIES,  # a database hiccup; reading twice is harmless
)
async def plan_period_runs(
    engine: AsyncEngine,
    settings: Settings,
    pipeline: Pipeline,
    period: Period | None,
    force: bool,
    max_periods: int,
) -> PeriodPlan:
    """The periods due (catch-up) or the one asked for; no report stores → ConfigError."""
    async with session_factory(engine)() as session:
        return await plan_periods(
            session, settings, pipeline, period=period, force=force, max_periods=max_periods
        )


# One PDF and `documents` row per report store plus the combined `ALL` one.
render_period = task(name="render-period-reports", cache_policy=NONE, persist_result=False)(
    render_period_reports
)
