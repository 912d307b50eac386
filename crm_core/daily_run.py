"""The daily run's bookkeeping: prerequisites, metrics, the run summary and the
content of the run's artifacts, all built from what each phase returned, so the flow only orchestrates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.audit import BucketOutcome
from crm_core.db.engine import open_engine, session_factory
from crm_core.db.stores import StoreScope, store_scope
from crm_core.exports import enabled_exports
from crm_core.json_logger import EventLogger
from crm_core.portal.client import DownloadResult, PortalConfig, require_chromium
from crm_core.reports.daily import ReportOutcome
from crm_core.runs import RunSummary
from crm_core.settings import ConfigError, Settings

PIPELINE_CODE = "dashboard_daily"


async def check_prerequisites(
    engine: AsyncEngine, settings: Settings, subset: list[str] | None
) -> StoreScope:
    """Phase 0: a browser, the store scope and the portal configuration; `ConfigError` stops the run."""
    await require_chromium(settings)
    async with session_factory(engine)() as session:
        scope = await store_scope(session, subset)
    PortalConfig.from_settings(settings)  # URLs present
    has_login = bool(settings.portal_username and settings.portal_password)
    if not has_login and not settings.storage_state_path.exists():
        raise ConfigError(
            "PORTAL_USERNAME and PORTAL_PASSWORD must be set (or a saved session: crm portal login --headed)"
        )
    return scope


async def preflight(settings: Settings, subset: list[str] | None) -> StoreScope:
    """The prerequisites checked before a run is started from the command line, so that a missing one
    exits 2 before Prefect or the browser start (the flow checks them again)."""
    await require_chromium(settings)  # the machine first: no database needed to tell
    if settings.crm_db_block or settings.crm_smtp_block or settings.crm_portal_block:
        from crm_core.blocks import resolve_block_secrets  # Prefect: only when blocks are named

        settings = await resolve_block_secrets(settings)
    async with open_engine(settings) as engine:
        return await check_prerequisites(engine, settings, subset)


@dataclass
class DailyRun:
    """Everything one daily run learned, phase by phase."""

    run_id: str
    run_env: str
    report_date: date
    scope: StoreScope
    dry_run: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    download: DownloadResult | None = None
    figures_stored: list[str] = field(default_factory=list)
    figure_problems: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, BucketOutcome] = field(default_factory=dict)
    reports: list[ReportOutcome] = field(default_factory=list)
    reports_skipped: str | None = None
    email: dict[str, Any] | None = None

    @property
    def processed_stores(self) -> list[str]:
        if self.download is None:
            return []
        return sorted(c for c, s in self.download.stores.items() if s.status in ("ok", "partial"))

    def metrics(self, logger: EventLogger) -> dict[str, Any]:
        """The run summary's `metrics_json` plus the download and dry-run facts an operator needs."""
        reports_ok = [r for r in self.reports if r.status == "ok"]
        return {
            "dry_run": self.dry_run,
            "stores": {
                "configured": self.scope.etl,
                "report_stores": self.scope.report,
                "processed": self.processed_stores,
                "failed": {
                    code: store.reason or store.status
                    for code, store in sorted((self.download.stores if self.download else {}).items())
                    if store.status != "ok"
                },
                "report_success": sorted(r.store_code for r in reports_ok),
                "report_failures": {r.store_code: r.message for r in self.reports if r.status != "ok"},
            },
            "download": {
                **(self.download.counts() if self.download else {}),
                "login_reason": self.download.login_reason if self.download else None,
                "duration_s": round(self.download.duration_s, 2) if self.download else None,
                "figures_stored": self.figures_stored,
                "figure_problems": self.figure_problems,
            },
            "buckets": {bucket: outcome.as_metrics() for bucket, outcome in self.buckets.items()},
            "pdf": {
                "generated": len(reports_ok),
                "failed": sum(1 for r in self.reports if r.status == "error"),
                "no_data": sum(1 for r in self.reports if r.status == "no_data"),
                "skipped": self.reports_skipped,
                "records": [{"store_code": r.store_code, "file_path": str(r.path)} for r in reports_ok],
            },
            "email": self.email or {"status": "skipped (dry run)" if self.dry_run else "not sent"},
            "issues": logger.issues(),
        }

    def summary(self, logger: EventLogger) -> RunSummary:
        return RunSummary(
            pipeline_name=PIPELINE_CODE,
            run_id=self.run_id,
            run_env=self.run_env,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            report_date=self.report_date,
            phases=logger.phase_counts(),
            metrics=self.metrics(logger),
            issues=logger.issues(),
        )

    def counts_table(self) -> list[dict[str, Any]]:
        """One row per store and bucket: what was downloaded and what became of the bucket."""
        rows: list[dict[str, Any]] = []
        stores = self.download.stores if self.download else {}
        for code in self.scope.etl:
            store = stores.get(code)
            for spec in enabled_exports():
                export = store.exports.get(spec.bucket) if store else None
                outcome = self.buckets.get(spec.bucket)
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

    def markdown(self, summary: RunSummary) -> str:
        """The run's markdown artifact: counts and codes only, never personal data."""
        lines = [
            f"# Daily run {self.report_date.isoformat()}: **{summary.status.upper()}**",
            "",
            f"Run `{self.run_id}` · env `{self.run_env}` · duration {summary.duration}"
            + (" · **dry run** (nothing written, deleted or sent)" if self.dry_run else ""),
            "",
            "| bucket | downloaded | merged | rejected | inserted | updated | ingested | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for bucket, outcome in self.buckets.items():
            c = outcome.counts()
            lines.append(
                f"| {bucket} | {c.get('download_total', 0)} | {c.get('merged_rows', 0)} | "
                f"{c.get('rejected_rows', 0)} | {c.get('inserted', 0)} | {c.get('updated', 0)} | "
                f"{c.get('ingested_rows', 0)} | {outcome.verdict}"
                + (f": {outcome.reason}" if outcome.verdict != "ok" and outcome.reason else "")
                + " |"
            )
        metrics = summary.metrics
        stores = metrics["stores"]
        lines += [
            "",
            f"**Stores:** {len(stores['processed'])} of {len(stores['configured'])} downloaded"
            + (
                f"; failed: {', '.join(f'{c} ({r})' for c, r in stores['failed'].items())}"
                if stores["failed"]
                else ""
            ),
            f"**PDFs:** {metrics['pdf']['generated']} generated"
            + (f", {metrics['pdf']['failed']} failed" if metrics["pdf"]["failed"] else "")
            + (f", {metrics['pdf']['no_data']} without data" if metrics["pdf"]["no_data"] else "")
            + (f" ({metrics['pdf']['skipped']})" if metrics["pdf"]["skipped"] else ""),
            f"**Email:** {metrics['email'].get('status')}"
            + (f" — {metrics['email']['message']}" if metrics["email"].get("message") else ""),
            "",
            "**Issues:**",
        ]
        lines += [f"- {issue}" for issue in summary.issues] or ["- None."]
        return "\n".join(lines)
