"""Send the product's NDJSON events to the Prefect run log, so they show in the Prefect UI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import APILogHandler

from crm_core.json_logger import EVENT_LOGGER_NAME, RedactingFilter


@contextmanager
def events_to_prefect() -> Iterator[None]:
    """While a flow runs, forward `crm.events` records (already redacted) to the run's log.

    The records stop at that handler: propagated, they would reach the console handler Prefect puts on the
    root logger and every event would show twice in the terminal (the event logger already prints it)."""
    logger = logging.getLogger(EVENT_LOGGER_NAME)
    handler = APILogHandler()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
