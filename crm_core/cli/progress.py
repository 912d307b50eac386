"""A live progress display for runs started at a terminal: stores downloaded, buckets loaded, PDFs rendered
and emails handled, driven by the run's own events (nothing in the pipeline knows about it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn

from crm_core.exports import enabled_exports
from crm_core.json_logger import EVENT_LOGGER_NAME, EVENT_RECORD_ATTRIBUTE

STORES, BUCKETS, PDFS, EMAILS = "stores downloaded", "buckets loaded", "PDFs rendered", "emails handled"
_REPORT_DONE = (
    "store report rendered",
    "no data",
    "store report failed",
    "store report render failed",
    "report data could not be loaded",
)


class EventProgress(logging.Handler):
    """Turns events into progress: each line counts what is done; a line whose total is known from the
    run's start event shows a bar."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.seen: dict[str, set[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, EVENT_RECORD_ATTRIBUTE, None)
        if isinstance(event, Mapping):
            self.update(event)

    def update(self, event: Mapping[str, Any]) -> None:
        phase, message = str(event.get("phase")), str(event.get("message"))
        counts = event.get("counts") or {}
        if phase == "orchestrator" and message.startswith("pipeline start"):
            self._task(STORES, counts.get("etl_stores"))
            self._task(BUCKETS, len(enabled_exports()))
            self._task(PDFS, counts.get("report_stores"))
        elif phase == "download" and message.startswith("store download"):
            self._advance(STORES, event.get("store_code"))
        elif phase == "audit" and event.get("bucket"):
            self._advance(BUCKETS, event.get("bucket"))
        elif phase == "report" and event.get("store_code") and message.startswith(_REPORT_DONE):
            self._advance(PDFS, f"{event.get('run_id')}/{event.get('store_code')}")
        elif phase == "report_email" and message.startswith("email "):
            self._advance(EMAILS, f"{event.get('run_id')}/{message}")

    def _task(self, name: str, total: Any) -> TaskID:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total if isinstance(total, int) else None)
            self.seen[name] = set()
        return self.tasks[name]

    def _advance(self, name: str, key: Any) -> None:
        task = self._task(name, None)
        if key is not None and str(key) in self.seen[name]:
            return  # a store or bucket reported twice (a retry) counts once
        self.seen[name].add(str(key))
        self.progress.advance(task)

    def completed(self, name: str) -> float:
        return next(t.completed for t in self.progress.tasks if t.id == self.tasks[name])

    def total(self, name: str) -> float | None:
        return next(t.total for t in self.progress.tasks if t.id == self.tasks[name])


def make_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def run_progress(console: Console) -> Iterator[EventProgress | None]:
    """While a run goes on in this process, its progress on `console` — only when that is a terminal: logs,
    pipes and cron mails get the events alone."""
    if not console.is_terminal:
        yield None
        return
    logger = logging.getLogger(EVENT_LOGGER_NAME)
    with make_progress(console) as progress:
        handler = EventProgress(progress)
        logger.addHandler(handler)
        previous_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous_level)
