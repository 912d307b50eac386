"""Prefect task for the download phase: one coarse task owns the browser and reports per store and bucket."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from crm_core.json_logger import EventLogger
from crm_core.portal.download import DownloadResult, download_all
from crm_core.settings import Settings
from tasks.common import TRANSIENT_RETRIES


@task(
    name="download-portal-exports",
    **TRANSIENT_RETRIES,  # portal unreachable: retry; bad login/data: never
    cache_policy=NONE,  # settings carry secrets and the logger is live state: nothing to hash or cache
    persist_result=False,
)
async def download_exports(
    settings: Settings, stores: list[str], report_date: date, logger: EventLogger
) -> DownloadResult:
    """Dashboard figures and exports of every store; per-store and per-bucket files with row counts."""
    return await download_all(settings, stores, report_date, logger)


def download_table(result: DownloadResult) -> list[dict[str, Any]]:
    """Rows for a Prefect table artifact: one per store with its status and rows per bucket."""
    rows = []
    for code, store in sorted(result.stores.items()):
        row: dict[str, Any] = {"store": code, "status": store.status, "reason": store.reason or ""}
        for bucket, export in store.exports.items():
            row[bucket] = export.rows if export.status == "ok" else f"skipped: {export.reason}"
        rows.append(row)
    return rows
