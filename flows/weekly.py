"""The weekly flow: weekly PDFs, run summary and emails for every complete week not produced yet
(see flows/period.py)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from crm_core.pipelines import WEEKLY
from flows.parameters import PeriodText
from flows.period import run_periods
from tasks.alerts import alert_hook


@flow(
    name=WEEKLY.flow_name,
    description="Weekly store PDFs (+ ALL) → summary → emails, for every complete week not produced yet.",
    on_failure=[alert_hook(WEEKLY)],
    on_crashed=[alert_hook(WEEKLY)],
    persist_result=False,
    validate_parameters=True,
)
async def weekly_flow(
    period: PeriodText = None,
    force: bool = False,
    max_periods: int = 12,
    dry_run: bool = False,
) -> State[Any]:
    """Catch-up of every due week, oldest first (at most `max_periods`).

    `period` (a date inside it, YYYY-MM-DD) produces that week alone; `force` redoes it when already produced;
    `dry_run` lists what would be produced."""
    return await run_periods(WEEKLY, period, force, max_periods, dry_run)
