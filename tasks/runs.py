"""Prefect tasks every pipeline's flow ends with: store the run summary, send the run's emails, publish
its artifacts. Each takes the run record and wraps one crm_core call."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NONE
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.json_logger import EventLogger
from crm_core.notify.engine import NotifyOutcome, send_notifications_for_run
from crm_core.runs.artifacts import artifact_key, counts_table, markdown
from crm_core.runs.record import RunRecord
from crm_core.runs.store import save_run_record
from crm_core.settings import Settings
from tasks.common import TRANSIENT_RETRIES


@task(
    name="save-run-summary",
    cache_policy=NONE,
    persist_result=False,
    **TRANSIENT_RETRIES,  # a database hiccup, not bad data
)
async def save_summary(engine: AsyncEngine, record: RunRecord, logger: EventLogger) -> str:
    """Write (or rewrite) the run's `pipeline_run_summaries` row as the record stands; returns its text."""
    record.finish()
    async with session_factory(engine)() as session, session.begin():
        text = await save_run_record(session, record)
    logger.event("run_summary", "ok", "run summary saved", counts={"status": record.status.value})
    return text


@task(name="send-notifications", cache_policy=NONE, persist_result=False)
async def send_notifications(
    engine: AsyncEngine, settings: Settings, record: RunRecord, logger: EventLogger
) -> NotifyOutcome:
    """Every planned email of the run not delivered before; transient SMTP errors retried inside."""
    return await send_notifications_for_run(engine, settings, record.pipeline.code, record.run_id, logger)


@task(name="publish-run-artifacts", cache_policy=NONE, persist_result=False)
async def publish_artifacts(record: RunRecord) -> None:
    """The markdown summary and the per-store, per-bucket counts table in the Prefect UI."""
    key = artifact_key(record)
    title = record.pipeline.description.split(":")[0]
    await acreate_markdown_artifact(
        markdown=markdown(record), key=f"{key}-summary", description=f"{title}: run summary"
    )
    await acreate_table_artifact(
        table=counts_table(record), key=f"{key}-counts", description="Rows downloaded per store and bucket"
    )
