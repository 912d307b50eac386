"""An ad-hoc portal download (`crm portal fetch`): the daily run's download and figures, nothing else."""

from __future__ import annotations

from datetime import date

from crm_core.db.engine import open_engine, session_factory
from crm_core.db.stores import store_scope
from crm_core.json_logger import EventLogger
from crm_core.portal.download import DownloadResult, download_all
from crm_core.portal.persist import store_dashboard_figures
from crm_core.settings import ConfigError, Settings


async def fetch_stores(
    settings: Settings, stores: list[str] | None, report_date: date, logger: EventLogger
) -> DownloadResult:
    """Download the stores' figures and exports into DOWNLOADS_DIR (default: the ETL stores), then store
    the figures. The files are the deliverable: a database problem with the figures is a warning event."""
    if not stores:
        async with open_engine(settings) as engine, session_factory(engine)() as session:
            stores = (await store_scope(session)).etl
    result = await download_all(settings, stores, report_date, logger)
    if result.figures:
        try:
            async with open_engine(settings) as engine:
                problems = await store_dashboard_figures(engine, list(result.figures.values()), logger.run_id)
            for code, problem in problems.items():
                logger.event("download", "warn", f"dashboard figures not stored: {problem}", store_code=code)
        except ConfigError as exc:
            logger.event("download", "warn", f"dashboard figures not stored: {exc}")
        except Exception as exc:
            logger.event("download", "warn", "dashboard figures not stored", exc=exc)
    return result
