"""Send the product's NDJSON events to the Prefect run log, so they show in the Prefect UI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import APILogHandler

from crm_core.json_logger import EVENT_LOGGER_NAME, RedactingFilter


@contextmanager
def events_to_prefect() -> Iterator[None]:
    """While a flow runs, forward `crm.events` records (already redacted) to the run's log."""
    logger = logging.getLogger(EVENT_LOGGER_NAME)
    handler = APILogHandler()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
