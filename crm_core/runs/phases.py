"""Outcomes of the phases that pipelines share: download, the per-bucket phases and the store reports.

Each phase's status is decided in one place: `DownloadResult.status`, `BucketOutcome.phase_status` (through
`BucketPhase`) and `ReportsResult.status`; the email phase is `NotifyOutcome` (crm_core/notify/engine.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crm_core.ingest.audit import BucketOutcome
from crm_core.portal.download import DownloadResult
from crm_core.reports.documents import ReportOutcome, ReportsResult
from crm_core.status import Status, worst

BUCKET_PHASES = ("merge", "ingest", "audit", "cleanup")


@dataclass
class DownloadPhase:
    """The portal download of every ETL store plus the storing of their dashboard figures."""

    result: DownloadResult
    configured: Sequence[str]
    figures_stored: list[str] = field(default_factory=list)
    figure_problems: dict[str, str] = field(default_factory=dict)

    @property
    def processed(self) -> list[str]:
        """Stores that downloaded something (all or part of their exports)."""
        return sorted(c for c, s in self.result.stores.items() if s.status in ("ok", "partial"))

    @property
    def status(self) -> Status:
        stored = Status.WARNING if self.figure_problems else Status.OK
        return worst((self.result.status, stored))

    @property
    def detail(self) -> str:
        return f"{len(self.processed)}/{len(self.configured)} stores"

    @property
    def issues(self) -> list[str]:
        result = self.result
        lines = [_login_issue(result)] if result.login_failed else []
        for code, store in sorted(result.stores.items()):
            if store.status != "ok" and not result.login_failed:
                lines.append(f"store {code}: download {store.status}: {store.reason or 'no reason given'}")
            if code in result.figures:
                lines += [f"store {code}: dashboard: {w}" for w in result.figure_warnings(code)]
        lines += [
            f"store {c}: dashboard figures not stored: {p}" for c, p in sorted(self.figure_problems.items())
        ]
        return lines


def _login_issue(result: DownloadResult) -> str:
    """The portal's reason plus where its screenshot is: what the operator opens next."""
    line = f"portal login failed: {result.login_reason}"
    shots = [str(p) for p in result.artifacts if p.suffix == ".png"]
    return line + (f" (screenshot: {shots[0]})" if shots else "")


@dataclass
class BucketPhase:
    """One of merge, ingest, audit and cleanup over every bucket of the run."""

    phase: str
    buckets: Mapping[str, BucketOutcome]

    @property
    def reached(self) -> bool:
        """True when some bucket got to this phase; a phase no bucket reached is not listed."""
        return any(b.phase_status(self.phase) is not None for b in self.buckets.values())

    @property
    def status(self) -> Status:
        return worst(s for b in self.buckets.values() if (s := b.phase_status(self.phase)) is not None)

    @property
    def detail(self) -> str:
        return f"{len(self.buckets)} buckets" if self.phase == "merge" else ""

    @property
    def issues(self) -> list[str]:
        return [line for b in self.buckets.values() for line in b.phase_issues(self.phase)]


@dataclass
class ReportPhase:
    """The per-store PDFs of the run; `skipped` says why none were rendered."""

    result: ReportsResult = field(default_factory=lambda: ReportsResult(()))
    skipped: str | None = None

    @property
    def reports(self) -> tuple[ReportOutcome, ...]:
        return self.result.outcomes

    @property
    def generated(self) -> list[ReportOutcome]:
        return self.result.rendered

    @property
    def status(self) -> Status:
        """The stores' outcomes decide; reports skipped for want of fresh data are a warning."""
        return worst((self.result.status, Status.WARNING if self.skipped else Status.OK))

    @property
    def detail(self) -> str:
        return f"{len(self.generated)} PDFs"

    @property
    def issues(self) -> list[str]:
        lines = [f"store reports skipped: {self.skipped}"] if self.skipped else []
        return lines + [f"store {r.store_code}: {r.message}" for r in self.reports if r.status != "ok"]
