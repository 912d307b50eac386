"""documents.deleted_at: when housekeeping deleted the file of the row (the row itself is kept)

Revision ID: 0005_document_deleted_at
Revises: 0004_combined_pdf
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_document_deleted_at"
down_revision: str | None = "0004_combined_pdf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("deleted_at")
