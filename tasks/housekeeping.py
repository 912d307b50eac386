"""The housekeeping step of the weekly deployment: `crm_core.housekeeping` with the run's settings, its
outcome published as a markdown artifact (counts and file names of the product's own files only)."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NONE

from crm_core.blocks import resolve_block_secrets
from crm_core.db.engine import engine_from_settings
from crm_core.db.migrate import require_head
from crm_core.housekeeping import housekeeping
from crm_core.settings import load_settings
from tasks.common import check_database


@task(name="housekeeping", cache_policy=NONE, persist_result=False)
async def housekeeping_task(dry_run: bool) -> dict[str, Any]:
    settings = await resolve_block_secrets(load_settings())
    engine = engine_from_settings(settings)
    try:
        await check_database(engine, settings.db_url_redacted)
        await require_head(engine)
        result = await housekeeping(engine, settings, dry_run=dry_run)
    finally:
        await engine.dispose()
    lines = result.lines()
    for line in lines:
        get_run_logger().info("%s", line)
    title = "Housekeeping (dry run: nothing changed)" if dry_run else "Housekeeping"
    await acreate_markdown_artifact(
        key="housekeeping", markdown="\n".join([f"# {title}", "", *(f"- {line}" for line in lines)])
    )
    return result.as_json()
