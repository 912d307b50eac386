"""The weekly housekeeping flow: the retention settings applied (see crm_core/housekeeping.py)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.housekeeping import housekeeping_task


@flow(
    name="housekeeping",
    description="Retention: old PDFs, outbox, login artifacts, kept downloads, run summaries, email log.",
    persist_result=False,
    validate_parameters=True,
)
async def housekeeping_flow(dry_run: bool = False) -> dict[str, Any]:
    """`dry_run` lists what would be deleted and changes nothing."""
    return await housekeeping_task(dry_run)
