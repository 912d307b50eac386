"""Audit and cleanup of one bucket.

Verdict `ok` iff nothing was rejected and every merged row was ingested: merged = inserted + updated +
unchanged (a row whose stored copy already had the same content is in the table, just not rewritten).
Only then, after the ingest transaction committed, are the per-store files and the merged file deleted.
Any other outcome keeps every file for inspection and logs why. A dry run never deletes; its verdict is
`warn` ("dry run: nothing ingested"), which is not a problem of the run (`BucketOutcome.dry_run_only`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crm_core.ingest.inert import make_inert
from crm_core.ingest.load import IngestResult
from crm_core.ingest.merge import MergeResult
from crm_core.json_logger import EventLogger
from crm_core.status import Status

Verdict = Literal["ok", "warn", "error"]
# A bucket that could not be merged or ingested keeps its `error` verdict, but in the event log (and so
# in the run's status) it is a warning: the other buckets and stores went through.
BUCKET_FAILURE: Literal["warn"] = "warn"
DRY_RUN_REASON = "dry run: nothing ingested"


@dataclass
class BucketOutcome:
    bucket: str
    merge: MergeResult | None
    ingest: IngestResult | None
    verdict: Verdict
    reason: str
    files_deleted: list[str] = field(default_factory=list)
    files_kept: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def dry_run_only(self) -> bool:
        """Kept back only because the run was a dry run: what the operator asked for, not a problem."""
        return self.dry_run and self.reason == DRY_RUN_REASON

    def phase_status(self, phase: str) -> Status | None:
        """The bucket's status in `phase` (merge, ingest, audit, cleanup), None when it never got there.

        A bucket that could not be merged or ingested is a warning for the run (its verdict stays `error`):
        the other buckets and stores went through."""
        if phase == "merge":
            reached = True
        elif phase == "ingest":
            reached = self.merge is not None and self.merge.merged_path is not None
        else:  # audit and cleanup judge every bucket that was merged, even with no input file
            reached = phase in ("audit", "cleanup") and self.merge is not None
        if not reached:
            return None
        return Status.WARNING if self.phase_issues(phase) else Status.OK

    def phase_issues(self, phase: str) -> list[str]:
        """What went wrong with the bucket in `phase`, one line each, naming the bucket."""
        merge, ingest, where = self.merge, self.ingest, f"bucket {self.bucket}"
        lines: list[str] = []
        if phase == "merge":
            if merge is None:
                lines.append(self.reason)
            else:
                lines += merge.warnings
                if merge.merged_path is None:
                    lines.append("no input file exists; nothing merged")
        elif phase == "ingest" and merge is not None and merge.merged_path is not None:
            if ingest is None:
                lines.append(self.reason if self.verdict == "error" else "merged file not ingested")
            else:
                if ingest.rejected_rows:
                    lines.append(
                        f"{ingest.rejected_rows} row(s) rejected"
                        + (f"; details in {ingest.rejects_path.name}" if ingest.rejects_path else "")
                    )
                if not ingest.dry_run:
                    lines += [w for w in ingest.warnings if not w.endswith("row(s) rejected")]
                    if ingest.null_warnings:
                        lines.append(f"{ingest.null_warnings} value(s) set NULL")
        elif phase == "audit" and merge is not None and self.verdict != "ok" and not self.dry_run_only:
            lines.append(f"audit {self.verdict}: {self.reason}")
        elif phase == "cleanup" and merge is not None:
            if self.verdict != "ok" and not self.dry_run:
                lines.append(f"{len(self.files_kept)} file(s) kept for inspection")
            elif self.verdict == "ok" and self.files_kept:
                lines.append(f"could not delete {', '.join(Path(p).name for p in self.files_kept)}")
        return [f"{where}: {line}" for line in lines]

    def counts(self) -> dict[str, int]:
        ingest = self.ingest
        return {
            "download_total": self.merge.download_total if self.merge else 0,
            "merged_rows": self.merge.merged_rows if self.merge else 0,
            "rejected_rows": ingest.rejected_rows if ingest else 0,
            "inserted": ingest.inserted if ingest else 0,
            "updated": ingest.updated if ingest else 0,
            "unchanged": ingest.unchanged if ingest else 0,
            "ingested_rows": ingest.ingested_rows if ingest else 0,
        }

    def as_metrics(self) -> dict[str, Any]:
        """The bucket's entry in the run summary's `metrics_json["buckets"]`."""
        merge = self.merge
        return {
            "stores": dict(merge.download_rows_by_store) if merge else {},
            "counts": {
                **self.counts(),
                "null_warnings": self.ingest.null_warnings if self.ingest else 0,
            },
            "merged_file": str(merge.merged_path) if merge and merge.merged_path else None,
            "rejects_file": str(self.ingest.rejects_path)
            if self.ingest and self.ingest.rejects_path
            else None,
            "verdict": self.verdict,
            "reason": self.reason,
            "files_deleted": list(self.files_deleted),
            "files_kept": list(self.files_kept),
        }


def _judge(
    merge: MergeResult, ingest: IngestResult | None, dry_run: bool, error: str | None
) -> tuple[Verdict, str]:
    if error:
        return "error", error
    if dry_run:
        return "warn", DRY_RUN_REASON
    if merge.merged_path is None:
        return "warn", "no input file: nothing merged or ingested"
    if ingest is None:
        return "warn", "merged file not ingested"
    problems = []
    if ingest.rejected_rows:
        problems.append(f"{ingest.rejected_rows} row(s) rejected")
    if ingest.ingested_rows != merge.merged_rows:
        problems.append(f"ingested {ingest.ingested_rows} of {merge.merged_rows} merged rows")
    if problems:
        return "warn", "; ".join(problems)
    return "ok", (
        f"{ingest.ingested_rows} row(s) ingested ({ingest.inserted} new, {ingest.updated} updated, "
        f"{ingest.unchanged} unchanged)"
    )


def _bucket_files(merge: MergeResult, ingest: IngestResult | None) -> list[Path]:
    files = [Path(p) for _, p in sorted(merge.source_files.items())]
    if merge.merged_path is not None:
        files.append(merge.merged_path)
    if ingest is not None and ingest.rejects_path is not None:
        files.append(ingest.rejects_path)
    return files


def audit_and_cleanup(
    merge: MergeResult,
    ingest: IngestResult | None,
    *,
    dry_run: bool,
    logger: EventLogger | None = None,
    error: str | None = None,
) -> BucketOutcome:
    """Judge the bucket's counts; on `ok` delete its files, otherwise keep them and say why."""
    verdict, reason = _judge(merge, ingest, dry_run, error)
    outcome = BucketOutcome(merge.bucket, merge, ingest, verdict, reason, dry_run=dry_run)
    counts = outcome.counts()
    if logger is not None:
        logger.event(
            "audit",
            BUCKET_FAILURE if verdict == "error" else "info" if reason == DRY_RUN_REASON else verdict,
            f"audit {verdict}: {reason}",
            bucket=merge.bucket,
            merged_file=merge.merged_path.name if merge.merged_path else None,
            counts=counts,
        )
    files = [p for p in _bucket_files(merge, ingest) if p.exists()]
    if verdict != "ok":
        if merge.merged_path in files:  # kept for people now; nothing reads it back
            make_inert(merge.merged_path, logger, bucket=merge.bucket)
        outcome.files_kept = [str(p) for p in files]
        if logger is not None:
            logger.event(
                "cleanup",
                "info" if dry_run else "warn",
                f"files kept ({len(files)}): {reason}",
                bucket=merge.bucket,
                counts=counts,
                files_kept=[p.name for p in files],
            )
        return outcome
    failed: list[str] = []
    for path in files:
        try:
            path.unlink()
            outcome.files_deleted.append(str(path))
        except OSError as exc:
            failed.append(f"{path.name} ({type(exc).__name__})")
            outcome.files_kept.append(str(path))
    if logger is not None:
        logger.event(
            "cleanup",
            "warn" if failed else "ok",
            f"files removed after successful audit ({len(outcome.files_deleted)})"
            + (f"; could not delete {', '.join(failed)}" if failed else ""),
            bucket=merge.bucket,
            counts=counts,
            files_deleted=[Path(p).name for p in outcome.files_deleted],
        )
    return outcome
