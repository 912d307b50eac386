"""`crm status`: the last run of each pipeline and whether the latest expected run is there and good.

The expected run is the latest complete period whose scheduled run (the pipeline's `due_at`, business time
zone, on the day after the period) plus `STATUS_GRACE_MINUTES` has passed: before 07:30 + grace the daily
run of T-1 is not due yet, so T-2's is the one expected. It is good when its latest run summary is `ok`
or `warning`; missing or `error` makes `crm status` exit 1, for an outside cron or monitoring system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db.models import PipelineRunSummary
from crm_core.periods import Period, last_complete_period, period_containing
from crm_core.pipelines import PIPELINES, Pipeline
from crm_core.settings import Settings

GOOD = ("ok", "warning")


@dataclass(frozen=True)
class LastRun:
    run_id: str
    status: str
    report_date: date | None
    started_at: datetime
    duration: str
    failed_stores: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PipelineHealth:
    pipeline: Pipeline
    expected: Period
    expected_status: str | None  # the expected period's latest summary status; None: no run
    last: LastRun | None
    due: datetime | None = None  # when the expected period's run is scheduled, in the business zone
    grace: timedelta = timedelta(0)

    @property
    def why_expected(self) -> str:
        """When the expected run was due and when the next one is, e.g. "due 2026-11-30 07:30 IST + 30 min
        grace; the run for 2026-11-30 is expected after 2026-12-01 08:00 IST"."""
        if self.due is None:
            return ""
        minutes = int(self.grace.total_seconds() // 60)
        following = self.expected.next()
        next_due = datetime.combine(following.end + timedelta(days=1), self.pipeline.due_at, self.due.tzinfo)
        return (
            f"due {self.due:%Y-%m-%d %H:%M %Z} + {minutes} min grace; the run for {following.label} is "
            f"expected after {next_due + self.grace:%Y-%m-%d %H:%M %Z}"
        )

    @property
    def healthy(self) -> bool:
        return self.expected_status in GOOD

    @property
    def verdict(self) -> str:
        if self.expected_status is None:
            return f"MISSING: no run for {self.expected.label}"
        if not self.healthy:
            return f"FAILED: the run for {self.expected.label} ended {self.expected_status}"
        return f"ok: {self.expected.label} {self.expected_status}"

    def as_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "pipeline": self.pipeline.code,
            "healthy": self.healthy,
            "expected": {
                "period": self.expected.label,
                "report_date": self.expected.end.isoformat(),
                "status": self.expected_status,
            },
            "last_run": None
            if last is None
            else {
                "run_id": last.run_id,
                "status": last.status,
                "report_date": last.report_date.isoformat() if last.report_date else None,
                "started_at": last.started_at.isoformat(),
                "duration": last.duration,
                "failed_stores": last.failed_stores,
            },
        }


def scheduled_run(pipeline: Pipeline, period: Period, settings: Settings) -> datetime:
    """When the pipeline's run for `period` is scheduled: `due_at` on the day after it, business zone."""
    return datetime.combine(period.end + timedelta(days=1), pipeline.due_at, settings.zone)


def expected_period(pipeline: Pipeline, settings: Settings, now: datetime) -> Period:
    """The latest period whose scheduled run, plus the grace period, is behind `now`. With CRM_TODAY set
    (a portal frozen at a day) that day's run counts as due."""
    grace = timedelta(minutes=settings.status_grace_minutes)
    if settings.crm_today is not None:
        now = datetime.combine(settings.crm_today, pipeline.due_at, settings.zone) + grace
    latest = last_complete_period(pipeline.period, now, settings.zone)
    if now < scheduled_run(pipeline, latest, settings) + grace:
        return period_containing(latest.start - timedelta(days=1), pipeline.period)
    return latest


def failed_stores(metrics: dict[str, Any] | None) -> list[str]:
    """The stores a run failed: portal or report failures (daily), no PDF for lack of a good render
    (weekly/monthly)."""
    metrics = metrics or {}
    stores = metrics.get("stores")
    if isinstance(stores, dict):
        return sorted(set(stores.get("failed") or {}) | set(stores.get("report_failures") or {}))
    expected = set(metrics.get("stores_expected") or [])
    accounted = set(metrics.get("stores_with_data") or []) | set(metrics.get("stores_without_data") or [])
    return sorted(expected - accounted) if metrics.get("pdf") else []


async def pipeline_health(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> list[PipelineHealth]:
    """Every pipeline's expected period, that period's latest status and the pipeline's last run."""
    now = now or datetime.now(UTC)
    health = []
    for pipeline in PIPELINES.values():
        expected = expected_period(pipeline, settings, now)
        latest = (
            await session.execute(
                select(PipelineRunSummary.overall_status)
                .where(
                    PipelineRunSummary.pipeline_name == pipeline.code,
                    PipelineRunSummary.report_date == expected.end,
                )
                .order_by(PipelineRunSummary.started_at.desc(), PipelineRunSummary.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        row = (
            await session.execute(
                select(PipelineRunSummary)
                .where(PipelineRunSummary.pipeline_name == pipeline.code)
                .order_by(PipelineRunSummary.started_at.desc(), PipelineRunSummary.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        last = (
            None
            if row is None
            else LastRun(
                run_id=row.run_id,
                status=row.overall_status,
                report_date=row.report_date,
                # SQLite hands back the stored UTC time without its zone.
                started_at=row.started_at
                if row.started_at.tzinfo is not None
                else row.started_at.replace(tzinfo=UTC),
                duration=row.total_time_taken,
                failed_stores=failed_stores(row.metrics_json),
            )
        )
        health.append(
            PipelineHealth(
                pipeline,
                expected,
                latest,
                last,
                due=scheduled_run(pipeline, expected, settings),
                grace=timedelta(minutes=settings.status_grace_minutes),
            )
        )
    return health
