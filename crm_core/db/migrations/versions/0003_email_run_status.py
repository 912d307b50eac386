"""email_sends.run_status: the status a run-level email reported (for the summary resend rule)

Revision ID: 0003_email_run_status
Revises: 0002_seed_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_email_run_status"
down_revision: str | None = "0002_seed_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("email_sends", sa.Column("run_status", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_sends") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("run_status")
