"""Prefect task for the download phase: one coarse task owns the browser and reports per store and bucket."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from crm_core.portal.download import download_all
from tasks.common import TRANSIENT_RETRIES

# Dashboard figures and exports of every store; per-store and per-bucket files with row counts.
download_exports = task(
    name="download-portal-exports",
    **TRANSIENT_RETRIES,  # portal unreachable: retry; bad login/data: never
    cache_policy=NONE,  # settings carry secrets and the logger is live state: nothing to hash or cache
    persist_result=False,
)(download_all)
