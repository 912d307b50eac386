"""What a run publishes in the Prefect UI: a markdown summary and a per-store, per-bucket counts table.
Counts and codes only, never personal data."""

from __future__ import annotations

from typing import Any

from crm_core.exports import enabled_exports
from crm_core.runs.phases import BucketPhase, DownloadPhase
from crm_core.runs.record import RunRecord


def artifact_key(record: RunRecord) -> str:
    """`daily-2025-11-19`: artifact keys allow lower-case letters, digits and dashes only."""
    day = record.report_date.isoformat() if record.report_date else record.run_id
    return f"{record.pipeline.title.lower()}-{day}"


def markdown(record: RunRecord) -> str:
    when = record.report_date.isoformat() if record.report_date else "unknown date"
    metrics = record.metrics_json()
    lines = [
        f"# {record.pipeline.title} run {when}: **{record.status.upper()}**",
        "",
        f"Run `{record.run_id}` · env `{record.env}` · duration {record.duration}"
        + (" · **dry run** (nothing written, deleted or sent)" if record.dry_run else ""),
        "",
        "| phase | status | detail |",
        "| --- | --- | --- |",
        *(f"| {phase} | {o.status.upper()} | {o.detail} |" for phase, o in record.outcomes()),
    ]
    buckets: dict[str, Any] = metrics.get("buckets") or {}
    if buckets:
        lines += [
            "",
            "| bucket | downloaded | merged | rejected | inserted | updated | unchanged | ingested "
            "| verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for bucket, info in buckets.items():
            c, verdict, reason = info.get("counts", {}), info.get("verdict", "-"), info.get("reason")
            lines.append(
                f"| {bucket} | {c.get('download_total', 0)} | {c.get('merged_rows', 0)} | "
                f"{c.get('rejected_rows', 0)} | {c.get('inserted', 0)} | {c.get('updated', 0)} | "
                f"{c.get('unchanged', 0)} | {c.get('ingested_rows', 0)} | {verdict}"
                + (f": {reason}" if verdict != "ok" and reason else "")
                + " |"
            )
    lines += _stores_pdf_email(metrics)
    lines += ["", "**Issues:**"]
    lines += [f"- {issue}" for issue in record.issues] or ["- None."]
    return "\n".join(lines)


def _stores_pdf_email(metrics: dict[str, Any]) -> list[str]:
    lines = [""]
    stores = metrics.get("stores")
    if stores:
        failed = stores.get("failed") or {}
        processed, configured = len(stores.get("processed", [])), len(stores.get("configured", []))
        lines.append(
            f"**Stores:** {processed} of {configured} downloaded"
            + (f"; failed: {', '.join(f'{c} ({r})' for c, r in failed.items())}" if failed else "")
        )
    pdf = metrics.get("pdf")
    if pdf:
        lines.append(
            f"**PDFs:** {pdf.get('generated', 0)} generated"
            + (f", {pdf['failed']} failed" if pdf.get("failed") else "")
            + (f", {pdf['no_data']} without data" if pdf.get("no_data") else "")
            + (f" ({pdf['skipped']})" if pdf.get("skipped") else "")
        )
    email = metrics.get("email")
    if email:
        lines.append(
            f"**Email:** {email.get('status')}" + (f" — {email['message']}" if email.get("message") else "")
        )
    return lines


def counts_table(record: RunRecord) -> list[dict[str, Any]]:
    """One row per store and bucket: what was downloaded and what became of the bucket."""
    download = record.phases.get("download")
    merge = record.phases.get("merge")
    stores = download.result.stores if isinstance(download, DownloadPhase) else {}
    buckets = merge.buckets if isinstance(merge, BucketPhase) else {}
    rows: list[dict[str, Any]] = []
    for code in record.scope.etl if record.scope else []:
        store = stores.get(code)
        for spec in enabled_exports():
            export = store.exports.get(spec.bucket) if store else None
            outcome = buckets.get(spec.bucket)
            rows.append(
                {
                    "store": code,
                    "bucket": spec.bucket,
                    "download": export.status if export else (store.status if store else "not run"),
                    "rows": export.rows if export else 0,
                    "bucket_verdict": outcome.verdict if outcome else "-",
                    "note": (export.reason if export and export.reason else "") or "",
                }
            )
    return rows
