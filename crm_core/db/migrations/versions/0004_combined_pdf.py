"""notification_profiles.attach_mode 'combined_pdf': weekly and monthly run summaries carry the ALL PDF

Revision ID: 0004_combined_pdf
Revises: 0003_email_run_status
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_combined_pdf"
down_revision: str | None = "0003_email_run_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_MODES = "('none', 'per_store_pdf', 'all_store_pdfs', 'all_docs_for_run')"
NEW_MODES = "('none', 'per_store_pdf', 'all_store_pdfs', 'all_docs_for_run', 'combined_pdf')"
PERIOD_PIPELINES = ("dashboard_weekly", "dashboard_monthly")


def _set_attach_mode(old: str, new: str) -> None:
    op.execute(
        sa.text(
            "UPDATE notification_profiles SET attach_mode = :new WHERE code = 'run_summary' "
            "AND attach_mode = :old AND pipeline_id IN (SELECT id FROM pipelines WHERE code IN (:w, :m))"
        ).bindparams(new=new, old=old, w=PERIOD_PIPELINES[0], m=PERIOD_PIPELINES[1])
    )


# Rows that reference notification_profiles with ON DELETE CASCADE.
DEPENDENTS = ("email_templates", "notification_recipients")


def _replace_check(modes: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite cannot alter a constraint: batch mode copies the table and drops the old one, and that
        # drop cascades to the templates and recipients (foreign keys are on, and cannot be switched off
        # inside the migration's transaction). They are kept aside and put back.
        for table in DEPENDENTS:
            op.execute(f"CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}")
    with op.batch_alter_table("notification_profiles") as batch:
        batch.drop_constraint(op.f("ck_notification_profiles_attach_mode"), type_="check")
        batch.create_check_constraint(op.f("ck_notification_profiles_attach_mode"), f"attach_mode IN {modes}")
    if sqlite:
        for table in DEPENDENTS:
            op.execute(f"DELETE FROM {table}")
            op.execute(f"INSERT INTO {table} SELECT * FROM keep_{table}")
            op.execute(f"DROP TABLE keep_{table}")


def upgrade() -> None:
    _replace_check(NEW_MODES)
    _set_attach_mode("none", "combined_pdf")


def downgrade() -> None:
    _set_attach_mode("combined_pdf", "none")
    _replace_check(OLD_MODES)
