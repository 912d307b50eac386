"""Retention: `crm housekeeping` and the weekly housekeeping deployment delete what is older than its
`RETENTION_*_DAYS` setting, and rotate the event log.

Only what the product wrote is touched, and only in its own folders: report PDFs through their `documents`
rows (inside REPORTS_DIR; each row is marked `deleted_at`, never left pointing at nothing), `.eml` files in
the outbox, login screenshots/HTML by their name pattern in the artifacts folder, export, merged and reject
files by their registry names plus the ingest work folders in DOWNLOADS_DIR. Symbolic links, other names
and anything elsewhere stay. A week's or month's latest produced run summary is kept whatever its age: the
catch-up reads it to know the period is done, and would otherwise produce the period again.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import Document, EmailSend, PipelineRunSummary
from crm_core.exports import EXPORTS
from crm_core.json_logger import rotate_log
from crm_core.pipelines import PIPELINES
from crm_core.runs.period import PRODUCED
from crm_core.settings import Settings

# `<prefix>_<user>_<20251119T073000Z>.png|.html`, as the portal session writes them on a failed login.
LOGIN_ARTIFACT = re.compile(r"^[\w.@+-]+_\d{8}T\d{6}Z\.(png|html)$")
_STORE = r"[A-Za-z0-9_-]+"


def download_names() -> re.Pattern[str]:
    """The names the product gives files in DOWNLOADS_DIR: per-store exports, merged and reject files."""
    names = [re.escape(spec.file_template).replace(re.escape("{sc}"), _STORE) for spec in EXPORTS.values()]
    buckets = "|".join(re.escape(spec.bucket) for spec in EXPORTS.values())
    names.append(rf"(merged|rejects)_({buckets})_\d{{8}}\.csv")
    return re.compile("^(" + "|".join(names) + ")$")


@dataclass
class Sweep:
    """One kind of thing housekeeping removes: how many (and bytes), and what it left alone and why."""

    name: str
    days: int
    count: int = 0
    size: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        verb = "would delete" if dry_run else "deleted"
        size = f" ({self.size / 1_048_576:.1f} MB)" if self.size else ""
        notes = f"; {'; '.join(self.notes[:5])}" if self.notes else ""
        more = f" (+{len(self.notes) - 5} more)" if len(self.notes) > 5 else ""
        return f"{self.name} older than {self.days} days: {verb} {self.count}{size}{notes}{more}"


@dataclass
class HousekeepingResult:
    dry_run: bool
    sweeps: list[Sweep] = field(default_factory=list)
    documents_marked: int = 0
    log: str | None = None

    def lines(self) -> list[str]:
        lines = [s.line(self.dry_run) for s in self.sweeps]
        marked = "would be marked" if self.dry_run else "marked"
        lines.append(f"documents rows {marked} deleted: {self.documents_marked}")
        if self.log:
            lines.append(self.log)
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "sweeps": [
                {"name": s.name, "days": s.days, "count": s.count, "bytes": s.size, "notes": s.notes}
                for s in self.sweeps
            ],
            "documents_marked": self.documents_marked,
            "log": self.log,
        }


def _old_files(folder: Path, pattern: re.Pattern[str], cutoff: float) -> Iterator[Path]:
    """Regular files (never links) directly in `folder`, named by `pattern`, last written before `cutoff`."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or not path.is_file() or not pattern.match(path.name):
            continue
        if path.stat().st_mtime < cutoff:
            yield path


def _remove(paths: Iterator[Path], sweep: Sweep, dry_run: bool) -> None:
    for path in paths:
        size = path.stat().st_size
        if not dry_run:
            try:
                path.unlink()
            except OSError as exc:
                sweep.notes.append(f"{path.name} not deleted: {exc.strerror}")
                continue
        sweep.count += 1
        sweep.size += size


def _ingest_folders(settings: Settings, sweep: Sweep, cutoff: float, dry_run: bool) -> None:
    """Work folders `ingest/<bucket>_<run id>` kept after a failed audit, once everything in them is old."""
    root = settings.downloads_path / "ingest"
    buckets = tuple(f"{spec.bucket}_" for spec in EXPORTS.values())
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_symlink() or not folder.is_dir() or not folder.name.startswith(buckets):
            continue
        files = [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]
        if any(p.is_symlink() for p in folder.rglob("*")):
            sweep.notes.append(f"ingest/{folder.name} kept: it holds a link")
            continue
        if any(p.stat().st_mtime >= cutoff for p in files):
            continue
        size = sum(p.stat().st_size for p in files)
        if not dry_run:
            shutil.rmtree(folder)
        sweep.count += 1
        sweep.size += size


def _delete_pdfs(by_path: dict[str, list[int]], reports: Path, sweep: Sweep, dry_run: bool) -> list[int]:
    """Delete each file inside REPORTS_DIR; returns the ids of the rows to mark."""
    marked: list[int] = []
    for file_path, ids in sorted(by_path.items()):
        path = Path(file_path)
        if path.is_symlink() or not path.resolve().is_relative_to(reports):
            sweep.notes.append(f"{path.name} kept: not a file inside REPORTS_DIR")
            continue
        if path.is_file():
            size = path.stat().st_size
            if not dry_run:
                path.unlink()
            sweep.count += 1
            sweep.size += size
        marked += ids  # a file already gone is marked too: the row must not promise it
    return marked


async def _pdfs(engine: AsyncEngine, settings: Settings, sweep: Sweep, now: datetime, dry_run: bool) -> int:
    """Delete the PDFs of documents rows older than the retention and mark those rows; returns how many
    rows were (or would be) marked."""
    oldest_kept = now.astimezone(settings.zone).date() - timedelta(days=sweep.days)
    async with session_factory(engine)() as session, session.begin():
        rows = (
            await session.execute(
                select(Document.id, Document.file_path).where(
                    Document.storage_backend == "fs",
                    Document.file_path.is_not(None),
                    Document.deleted_at.is_(None),
                    Document.doc_date < oldest_kept,
                )
            )
        ).all()
        by_path: dict[str, list[int]] = defaultdict(list)
        for row_id, file_path in rows:
            by_path[str(file_path)].append(int(row_id))
        marked = await asyncio.to_thread(_delete_pdfs, by_path, settings.reports_path, sweep, dry_run)
        if marked and not dry_run:
            await session.execute(update(Document).where(Document.id.in_(marked)).values(deleted_at=now))
    return len(marked)


async def _summaries(engine: AsyncEngine, sweep: Sweep, now: datetime, dry_run: bool) -> None:
    cutoff = now - timedelta(days=sweep.days)
    periodic = [p.code for p in PIPELINES.values() if p.period != "day"]
    async with session_factory(engine)() as session, session.begin():
        produced = (
            await session.execute(
                select(
                    PipelineRunSummary.id,
                    PipelineRunSummary.pipeline_name,
                    PipelineRunSummary.report_date,
                )
                .where(
                    PipelineRunSummary.pipeline_name.in_(periodic),
                    PipelineRunSummary.overall_status.in_(PRODUCED),
                )
                .order_by(PipelineRunSummary.started_at, PipelineRunSummary.id)
            )
        ).all()
        latest: dict[tuple[str, Any], int] = {}
        for row_id, pipeline, end in produced:
            latest[(pipeline, end)] = int(row_id)  # ordered by start: the last one wins
        old = PipelineRunSummary.started_at < cutoff
        keep = PipelineRunSummary.id.not_in(list(latest.values())) if latest else true()
        count = (
            await session.execute(select(func.count()).select_from(PipelineRunSummary).where(old, keep))
        ).scalar_one()
        if count and not dry_run:
            await session.execute(delete(PipelineRunSummary).where(old, keep))
    sweep.count = int(count)


async def _email_log(engine: AsyncEngine, sweep: Sweep, now: datetime, dry_run: bool) -> None:
    old = EmailSend.created_at < now - timedelta(days=sweep.days)
    async with session_factory(engine)() as session, session.begin():
        count = (await session.execute(select(func.count()).select_from(EmailSend).where(old))).scalar_one()
        if count and not dry_run:
            await session.execute(delete(EmailSend).where(old))
    sweep.count = int(count)


def _sweep_folders(settings: Settings, now: datetime, dry_run: bool) -> tuple[Sweep, Sweep, Sweep]:
    def cutoff(days: int) -> float:
        return (now - timedelta(days=days)).timestamp()

    outbox = Sweep("outbox emails", settings.retention_outbox_days)
    eml = re.compile(r"^.+\.eml$")
    _remove(_old_files(settings.outbox_path, eml, cutoff(outbox.days)), outbox, dry_run)
    artifacts = Sweep("login artifacts", settings.retention_artifacts_days)
    _remove(_old_files(settings.artifacts_path, LOGIN_ARTIFACT, cutoff(artifacts.days)), artifacts, dry_run)
    downloads = Sweep("kept downloads", settings.retention_downloads_days)
    _remove(_old_files(settings.downloads_path, download_names(), cutoff(downloads.days)), downloads, dry_run)
    _ingest_folders(settings, downloads, cutoff(downloads.days), dry_run)
    return outbox, artifacts, downloads


async def housekeeping(
    engine: AsyncEngine, settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> HousekeepingResult:
    """Apply every retention setting; a dry run changes nothing and reports what it would do."""
    now = now or datetime.now(UTC)
    result = HousekeepingResult(dry_run)

    pdfs = Sweep("report PDFs", settings.retention_pdf_days)
    result.documents_marked = await _pdfs(engine, settings, pdfs, now, dry_run)

    outbox, artifacts, downloads = await asyncio.to_thread(_sweep_folders, settings, now, dry_run)

    summaries = Sweep("run summaries", settings.retention_summaries_days)
    await _summaries(engine, summaries, now, dry_run)
    email_log = Sweep("email send log rows", settings.retention_email_log_days)
    await _email_log(engine, email_log, now, dry_run)
    result.sweeps = [pdfs, outbox, artifacts, downloads, summaries, email_log]

    if settings.json_log_file is not None:
        path = settings.json_log_file.expanduser()
        max_bytes, keep = settings.json_log_max_mb * 1_048_576, settings.json_log_keep
        dropped = await asyncio.to_thread(rotate_log, path, max_bytes, keep, dry_run=dry_run)
        if dropped is not None:
            verb = "would rotate" if dry_run else "rotated"
            gone = f", oldest generation {dropped[0].name} deleted" if dropped else ""
            result.log = f"event log {path.name} {verb} (over {settings.json_log_max_mb} MB){gone}"
    return result
