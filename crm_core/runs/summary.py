"""The run summary text: the daily layout lists data per bucket, the period layout details; the
registry's `summary_layout` picks one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crm_core.pipelines import SummaryLayout
from crm_core.runs.daily import BACKFILL_NOTE
from crm_core.runs.record import RunRecord


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render(record: RunRecord) -> str:
    return LAYOUTS[record.pipeline.summary_layout](record)


def _dry(record: RunRecord) -> str:
    return " (dry run)" if record.dry_run else ""


def _phase_lines(record: RunRecord, *, details: bool) -> list[str]:
    lines = []
    for phase, outcome in record.outcomes():
        detail = f" ({outcome.detail})" if details and outcome.detail else ""
        lines.append(f"- {phase}: {outcome.status.upper()}{detail}")
    return lines


def daily_text(record: RunRecord) -> str:
    finished = record.finished_at or record.started_at
    metrics = record.metrics_json()
    lines = [
        f"Pipeline: {record.pipeline.code}",
        f"Run ID: {record.run_id}",
        f"Env: {record.env}",
        f"Report Date: {record.report_date.isoformat() if record.report_date else 'unknown'}",
        f"Started: {iso_z(record.started_at)}  Finished: {iso_z(finished)}  Duration: {record.duration}",
        f"Status: {record.status}{_dry(record)}",
        "",
        "Phases:",
        *_phase_lines(record, details=True),
    ]
    if metrics.get("backfill"):
        # Nothing was downloaded or ingested: the data section would only list empty buckets.
        lines += ["", f"Data: {BACKFILL_NOTE}.", "", "Issues:"]
        lines += [f"- {issue}" for issue in record.issues] or ["- None."]
        return "\n".join(lines)
    processed = metrics.get("stores", {}).get("processed") or []
    lines += [
        "",
        "Data:",
        f"- Stores processed: {', '.join(processed) if processed else 'None'}",
        "- Buckets:",
    ]
    for bucket, info in metrics.get("buckets", {}).items():
        counts = info.get("counts", {})
        rows = counts.get("ingested_rows") or counts.get("merged_rows") or counts.get("download_total") or 0
        lines.append(f"  - {bucket}: {rows} rows")
    lines += ["", "Issues:"]
    lines += [f"- {issue}" for issue in record.issues] or ["- None."]
    return "\n".join(lines)


def period_text(record: RunRecord, details: list[str] | None = None) -> str:
    """The weekly/monthly layout; `details` are the pipeline's own lines, listed before the issues."""
    finished = record.finished_at or record.started_at
    lines = [
        f"Pipeline: {record.pipeline.code}",
        f"Env: {record.env}",
        f"Run ID: {record.run_id}",
        f"Report Date: {record.report_date.isoformat() if record.report_date else 'unknown'}",
        f"Started At: {iso_z(record.started_at)} UTC",
        f"Finished At: {iso_z(finished)} UTC",
        f"Total Time: {record.duration}",
        f"Overall Status: {record.status}{_dry(record)}",
        "",
        "Phases:",
        *_phase_lines(record, details=False),
    ]
    extra = [*(details or []), *record.issues]
    if extra:
        lines += ["", "Details:"] + [f"- {line}" for line in extra]
    return "\n".join(lines)


def period_details(record: RunRecord) -> list[str]:
    """A weekly/monthly run's detail line, read from its metrics (so a stored run renders the same)."""
    metrics: dict[str, Any] = record.metrics_json()
    period = metrics.get("period") or {}
    pdf = metrics.get("pdf") or {}
    missing = metrics.get("stores_without_data") or []
    if not period:
        return []
    generated, label = pdf.get("generated", 0), period.get("label")
    return [
        f"{record.pipeline.title} PDFs: {generated} generated for period {label}. "
        f"Stores with data: {len(metrics.get('stores_with_data') or [])}; "
        f"missing: {', '.join(missing) if missing else 'none'}."
    ]


LAYOUTS: dict[SummaryLayout, Callable[[RunRecord], str]] = {
    SummaryLayout.DAILY: daily_text,
    SummaryLayout.PERIOD: lambda record: period_text(record, period_details(record)),
}
