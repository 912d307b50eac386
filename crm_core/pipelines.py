"""The pipeline registry: every fact about a pipeline, in one place.

A pipeline is a code stored in `pipeline_run_summaries`, `pipelines` and `email_sends`, a Prefect flow, a
period it reports on, the phases its run summary lists (in display order), the document type of its
per-store PDFs and the email profiles it sends. Everything that needs one of these facts reads it here;
`tests/test_pipelines.py` proves the seeded notification metadata in the database matches.

Adding a pipeline: an entry in `PIPELINES`, a migration seeding its profiles and templates, a data loader,
a report layout and a flow (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from crm_core.periods import PeriodKind


class SummaryLayout(StrEnum):
    """How the run summary text is laid out: the daily one lists data per bucket, a period one details."""

    DAILY = "daily"
    PERIOD = "period"


class ProfileScope(StrEnum):
    RUN = "run"  # one email per run (run summary)
    STORE = "store"  # one email per store, with that store's PDF


@dataclass(frozen=True)
class EmailProfile:
    code: str
    scope: ProfileScope
    # `notification_profiles.attach_mode`: none | per_store_pdf | combined_pdf (the run's `ALL` PDF)
    attach_mode: str
    description: str


_PERIOD_TITLES: dict[PeriodKind, str] = {"day": "Daily", "week": "Weekly", "month": "Monthly"}

RUN_SUMMARY = EmailProfile(
    "run_summary", ProfileScope.RUN, "none", "Run summary (pipeline health) for this pipeline"
)
# A weekly or monthly run summary carries the combined `ALL` PDF of its period.
PERIOD_RUN_SUMMARY = EmailProfile(
    "run_summary", ProfileScope.RUN, "combined_pdf", "Run summary (pipeline health) for this pipeline"
)
# Failure alerts from the flow hooks are logged in `email_sends` under this profile code; they go to the
# run-summary recipients (or ALERT_EMAIL_TO), so no profile of their own is seeded.
ALERT_PROFILE_CODE = "alert"


@dataclass(frozen=True)
class Pipeline:
    code: str
    flow_name: str
    description: str
    period: PeriodKind
    phases: tuple[str, ...]
    document_type: str
    store_profile: EmailProfile
    summary_layout: SummaryLayout
    # When the schedule runs it (business time zone): every day, on Mondays, on the 1st. prefect.yaml's
    # cron says the same (tests/test_pipelines.py); `crm status` reads it to know which run is due.
    due_at: time
    summary_profile: EmailProfile = RUN_SUMMARY

    @property
    def cron(self) -> str:
        day_fields = {"day": "* * *", "week": "* * 1", "month": "1 * *"}[self.period]
        return f"{self.due_at.minute} {self.due_at.hour} {day_fields}"

    @property
    def title(self) -> str:
        """'Daily', 'Weekly' or 'Monthly': how reports, artifacts and emails name the pipeline's runs."""
        return _PERIOD_TITLES[self.period]

    @property
    def profiles(self) -> tuple[EmailProfile, ...]:
        return (self.summary_profile, self.store_profile)

    def profile(self, code: str) -> EmailProfile:
        for profile in self.profiles:
            if profile.code == code:
                return profile
        raise KeyError(f"pipeline {self.code} has no email profile {code!r}")


# The phases a period pipeline reports: the database and the claim on the period, the PDFs (loading the
# stored dashboard data is part of each store's report), the emails.
_PERIOD_PHASES = ("db", "report", "report_email")

DAILY = Pipeline(
    code="dashboard_daily",
    flow_name="dashboard-daily",
    description="Daily dashboard pipeline: portal exports, ingest, store PDFs and notifications",
    period="day",
    phases=("db", "download", "merge", "ingest", "audit", "cleanup", "report", "report_email"),
    document_type="store_daily_pdf",
    store_profile=EmailProfile(
        "store_daily_reports", ProfileScope.STORE, "per_store_pdf", "Daily store performance PDFs per store"
    ),
    summary_layout=SummaryLayout.DAILY,
    due_at=time(7, 30),
)
WEEKLY = Pipeline(
    code="dashboard_weekly",
    flow_name="dashboard-weekly",
    description="Weekly dashboard reporting pipeline (last complete Monday-Sunday week)",
    period="week",
    phases=_PERIOD_PHASES,
    document_type="store_weekly_pdf",
    store_profile=EmailProfile(
        "store_weekly_reports", ProfileScope.STORE, "per_store_pdf", "Weekly store performance PDFs per store"
    ),
    summary_layout=SummaryLayout.PERIOD,
    due_at=time(8, 0),
    summary_profile=PERIOD_RUN_SUMMARY,
)
MONTHLY = Pipeline(
    code="dashboard_monthly",
    flow_name="dashboard-monthly",
    description="Monthly dashboard reporting pipeline (previous calendar month)",
    period="month",
    phases=_PERIOD_PHASES,
    document_type="store_monthly_pdf",
    store_profile=EmailProfile(
        "store_monthly_reports",
        ProfileScope.STORE,
        "per_store_pdf",
        "Monthly store performance PDFs per store",
    ),
    summary_layout=SummaryLayout.PERIOD,
    due_at=time(8, 30),
    summary_profile=PERIOD_RUN_SUMMARY,
)

PIPELINES: dict[str, Pipeline] = {p.code: p for p in (DAILY, WEEKLY, MONTHLY)}


def get_pipeline(code: str) -> Pipeline:
    try:
        return PIPELINES[code]
    except KeyError:
        raise KeyError(f"unknown pipeline {code!r} (known: {', '.join(PIPELINES)})") from None


def pipeline_for_document_type(document_type: str) -> Pipeline | None:
    return next((p for p in PIPELINES.values() if p.document_type == document_type), None)


def pipeline_for_flow(flow_name: str) -> Pipeline | None:
    return next((p for p in PIPELINES.values() if p.flow_name == flow_name), None)
