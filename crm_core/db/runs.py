"""Stored run summaries (`pipeline_run_summaries`) as rows: what the notification engine and the run
record read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import PipelineRunSummary


async def load_run_summary(session: AsyncSession, run_id: str) -> PipelineRunSummary | None:
    result = await session.execute(select(PipelineRunSummary).where(PipelineRunSummary.run_id == run_id))
    return result.scalar_one_or_none()
