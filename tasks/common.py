"""What every task and flow shares: transient-error retries and the per-run context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.blocks import resolve_block_secrets
from crm_core.db.engine import engine_from_settings, ping
from crm_core.db.migrate import require_head
from crm_core.errors import is_transient
from crm_core.json_logger import EventLogger
from crm_core.pipelines import Pipeline
from crm_core.settings import Settings, load_settings

RETRY_DELAYS_S = [5, 30, 120]
RETRY_JITTER = 0.3


def retry_transient_only(task: Any, task_run: Any, state: State[Any]) -> bool:
    """`retry_condition_fn` for every task: retry only what may succeed when tried again."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return exc is not None and is_transient(exc)


# Retry options of every task that talks to the portal, the database or SMTP: transient failures only.
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": [float(s) for s in RETRY_DELAYS_S],
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_transient_only,
}


@task(name="check-database", cache_policy=NONE, persist_result=False, **TRANSIENT_RETRIES)
async def check_database(engine: AsyncEngine, redacted_url: str) -> None:
    """The database answers; one that is down at flow start may be restarting, so it is retried."""
    await ping(engine, redacted_url)


@dataclass
class RunContext:
    settings: Settings
    engine: AsyncEngine
    logger: EventLogger
    run_id: str
    pipeline: Pipeline


@asynccontextmanager
async def run_context(pipeline: Pipeline, run_id: str, **overrides: Any) -> AsyncIterator[RunContext]:
    """Settings (secrets from blocks when named), a reachable database at the code's schema revision and
    the run's event logger."""
    settings = await resolve_block_secrets(load_settings(**overrides))
    engine = engine_from_settings(settings)
    try:
        await check_database(engine, settings.db_url_redacted)
        await require_head(engine)
        logger = EventLogger(run_id, pipeline.code, file_path=settings.json_log_file)
        yield RunContext(settings, engine, logger, run_id, pipeline)
    finally:
        await engine.dispose()
