"""seed pipelines, notification profiles and default email templates

Revision ID: 0002_seed_notifications
Revises: 0001_baseline
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_seed_notifications"
down_revision: str | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PIPELINES = [
    ("dashboard_daily", "Daily dashboard pipeline: portal exports, ingest, store PDFs and notifications"),
    ("dashboard_weekly", "Weekly dashboard reporting pipeline (last complete Monday-Sunday week)"),
    ("dashboard_monthly", "Monthly dashboard reporting pipeline (previous calendar month)"),
]

RUN_SUMMARY_SUBJECT = (
    "[TSV Pipeline Run] {{ pipeline_name }} | {{ report_date }} | {{ overall_status | upper }}"
)
RUN_SUMMARY_TEXT = "{{ summary_text }}\n\n(Env: {{ run_env }}, Run ID: {{ run_id }})\n"
RUN_SUMMARY_HTML = (
    "<p>Pipeline <strong>{{ pipeline_name }}</strong> finished with status "
    "<strong>{{ overall_status | upper }}</strong> for {{ report_date }}.</p>\n"
    '<pre style="font-family: Menlo, Consolas, monospace; font-size: 13px">{{ summary_text }}</pre>\n'
    '<p style="color: #7f8c8d; font-size: 12px">Env: {{ run_env }} &middot; Run ID: {{ run_id }}</p>\n'
)


def _store_template(kind: str, subject: str, period: str) -> tuple[str, str, str]:
    text = (
        f"Hello,\n\nAttached is the {kind} performance report for "
        f"{{{{ store_name }}}} ({{{{ store_code }}}}), {period}.\n\n-- TSV Store Performance Reports\n"
    )
    html = (
        f"<p>Hello,</p>\n<p>Attached is the <strong>{kind}</strong> performance report for "
        f"<strong>{{{{ store_name }}}}</strong> ({{{{ store_code }}}}), {period}.</p>\n"
        '<p style="color: #7f8c8d; font-size: 12px">TSV Store Performance Reports</p>\n'
    )
    return subject, text, html


STORE_PROFILES = {
    "dashboard_daily": (
        "store_daily_reports",
        "Daily store performance PDFs per store",
        _store_template(
            "daily", "{{ store_name }} Daily Performance Report {{ report_date }}", "for {{ report_date }}"
        ),
    ),
    "dashboard_weekly": (
        "store_weekly_reports",
        "Weekly store performance PDFs per store",
        _store_template(
            "weekly",
            "[TSV Store Performance - Weekly] {{ store_name }} | Week ending {{ report_date }}",
            "week ending {{ report_date }}",
        ),
    ),
    "dashboard_monthly": (
        "store_monthly_reports",
        "Monthly store performance PDFs per store",
        _store_template(
            "monthly",
            "[TSV Store Performance - Monthly] {{ store_name }} | {{ report_date }}",
            "month ending {{ report_date }}",
        ),
    ),
}

pipelines = sa.table("pipelines", sa.column("id", sa.BigInteger), sa.column("code"), sa.column("description"))
profiles = sa.table(
    "notification_profiles",
    sa.column("id", sa.BigInteger),
    sa.column("pipeline_id", sa.BigInteger),
    sa.column("code"),
    sa.column("description"),
    sa.column("env"),
    sa.column("scope"),
    sa.column("attach_mode"),
    sa.column("is_active", sa.Boolean),
)
templates = sa.table(
    "email_templates",
    sa.column("profile_id", sa.BigInteger),
    sa.column("name"),
    sa.column("subject_template"),
    sa.column("body_template"),
    sa.column("html_template"),
    sa.column("is_active", sa.Boolean),
)


def upgrade() -> None:
    bind = op.get_bind()
    for code, description in PIPELINES:
        pipeline_id = bind.execute(
            sa.insert(pipelines).values(code=code, description=description).returning(pipelines.c.id)
        ).scalar_one()
        store_code, store_description, (subject, text, html) = STORE_PROFILES[code]
        seeds = [
            (
                "run_summary",
                "Run summary (pipeline health) for this pipeline",
                "run",
                "none",
                (RUN_SUMMARY_SUBJECT, RUN_SUMMARY_TEXT, RUN_SUMMARY_HTML),
            ),
            (store_code, store_description, "store", "per_store_pdf", (subject, text, html)),
        ]
        for profile_code, description_, scope, attach_mode, (subj, body, body_html) in seeds:
            profile_id = bind.execute(
                sa.insert(profiles)
                .values(
                    pipeline_id=pipeline_id,
                    code=profile_code,
                    description=description_,
                    env="any",
                    scope=scope,
                    attach_mode=attach_mode,
                    is_active=True,
                )
                .returning(profiles.c.id)
            ).scalar_one()
            bind.execute(
                sa.insert(templates).values(
                    profile_id=profile_id,
                    name="default",
                    subject_template=subj,
                    body_template=body,
                    html_template=body_html,
                    is_active=True,
                )
            )


def downgrade() -> None:
    # Profiles, templates and recipients go with their pipeline (ON DELETE CASCADE).
    # crm_core.db.engine switches SQLite foreign keys on, so the cascade works there too.
    op.execute(pipelines.delete().where(pipelines.c.code.in_([code for code, _ in PIPELINES])))
