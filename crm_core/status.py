"""A run's status and the small protocol every phase result satisfies (portal download, buckets, reports,
emails and the run record all speak it).

A run's status is the worst status of its phases; each phase decides its own status from what it
returned (never from the events it logged), names its problems in `issues` and says in `detail` what it
did, in a few words for the summary line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.OK: 0, Status.WARNING: 1, Status.ERROR: 2}


def worst(statuses: Iterable[Status]) -> Status:
    """error if any is an error, else warning if any is a warning, else ok (also for none at all)."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


class PhaseOutcome(Protocol):
    """What a phase returned, as the run summary sees it."""

    @property
    def status(self) -> Status: ...

    @property
    def detail(self) -> str:
        """A few words for the phase's summary line ("3/3 stores", "2 PDFs"); empty when none fit."""
        ...

    @property
    def issues(self) -> Sequence[str]:
        """Operator-readable lines naming the store, bucket or email concerned."""
        ...


@dataclass(frozen=True)
class PhaseResult:
    """A phase outcome as stored in `phases_json`: what a stored run is rebuilt from."""

    status: Status
    detail: str = ""
    issues: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, outcome: PhaseOutcome) -> PhaseResult:
        return cls(Status(outcome.status), outcome.detail, tuple(outcome.issues))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhaseResult:
        if "status" not in data:  # rows written when phases were kept as counts of ok/warning/error
            return cls(worst(Status(key) for key in ("warning", "error") if data.get(key)))
        return cls(Status(data["status"]), str(data.get("detail") or ""), tuple(data.get("issues") or ()))

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "detail": self.detail, "issues": list(self.issues)}
