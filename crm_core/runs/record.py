"""One run of any pipeline: its identity, scope and the outcome of each phase, in the registry's order.

The run's status is the worst status of its phases and its issues are theirs: nothing is reconstructed
from the event log. `metrics_json` is the pipeline's own metrics (a dataclass built from the record) plus
the issues; `phases_json` keeps per phase its status, detail and issues, so a stored run can have one
phase replaced (the email catch-up) and be rendered again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crm_core.db.stores import StoreScope
from crm_core.pipelines import Pipeline
from crm_core.status import PhaseOutcome, PhaseResult, Status, worst

MAX_DURATION_S = 99 * 3600 + 59 * 60 + 59  # the HH:MM:SS column cannot say more


def hhmmss(seconds: float) -> str:
    total = min(max(round(seconds), 0), MAX_DURATION_S)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _now() -> datetime:
    return datetime.now(UTC)


def _no_metrics(record: RunRecord) -> Any:
    return {}


@dataclass
class RunRecord:
    """Everything one run learned. `metrics` builds the pipeline's metrics from the record: a dataclass
    (turned into JSON with `dataclasses.asdict`) or, for a stored run, the stored mapping."""

    pipeline: Pipeline
    run_id: str
    env: str
    report_date: date | None = None
    period_start: date | None = None
    scope: StoreScope | None = None
    dry_run: bool = False
    started_at: datetime = field(default_factory=_now)
    finished_at: datetime | None = None
    phases: dict[str, PhaseOutcome] = field(default_factory=dict)
    metrics: Callable[[RunRecord], Any] = _no_metrics

    def set_phase(self, phase: str, outcome: PhaseOutcome) -> None:
        if phase not in self.pipeline.phases:
            raise KeyError(f"pipeline {self.pipeline.code} has no phase {phase!r}")
        self.phases[phase] = outcome

    def outcomes(self) -> Iterator[tuple[str, PhaseOutcome]]:
        """The phases that ran, in the registry's order."""
        for phase in self.pipeline.phases:
            if phase in self.phases:
                yield phase, self.phases[phase]

    @property
    def status(self) -> Status:
        return worst(outcome.status for _, outcome in self.outcomes())

    @property
    def issues(self) -> list[str]:
        return [issue for _, outcome in self.outcomes() for issue in outcome.issues]

    def finish(self) -> None:
        self.finished_at = _now()

    @property
    def duration(self) -> str:
        return hhmmss(((self.finished_at or _now()) - self.started_at).total_seconds())

    def phases_json(self) -> dict[str, Any]:
        return {phase: PhaseResult.of(outcome).as_json() for phase, outcome in self.outcomes()}

    def metrics_json(self) -> dict[str, Any]:
        built = self.metrics(self)
        is_instance = dataclasses.is_dataclass(built) and not isinstance(built, type)
        body = dataclasses.asdict(built) if is_instance else dict(built)
        return {"dry_run": self.dry_run, **body, "issues": self.issues}
