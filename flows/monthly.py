"""The monthly flow: monthly PDFs, run summary and emails for every complete month not produced yet
(see flows/period.py)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from crm_core.pipelines import MONTHLY
from flows.parameters import PeriodText
from flows.period import run_periods
from tasks.alerts import alert_hook


@flow(
    name=MONTHLY.flow_name,
    description="Monthly store PDFs (+ ALL) → summary → emails, for every complete month not produced yet.",
    on_failure=[alert_hook(MONTHLY)],
    on_crashed=[alert_hook(MONTHLY)],
    persist_result=False,
    validate_parameters=True,
)
async def monthly_flow(
    period: PeriodText = None,
    force: bool = False,
    max_periods: int = 12,
    dry_run: bool = False,
) -> State[Any]:
    """Catch-up of every due month, oldest first (at most `max_periods`).

    `period` (YYYY-MM or a date inside it) produces that month alone; `force` redoes it when already produced;
    `dry_run` lists what would be produced."""
    return await run_periods(MONTHLY, period, force, max_periods, dry_run)
