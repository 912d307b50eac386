"""ingest tables: an index on upper(store_code), the expression reports select a store's rows by

Revision ID: 0006_store_code_upper_index
Revises: 0005_document_deleted_at
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_store_code_upper_index"
down_revision: str | None = "0005_document_deleted_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("missed_leads", "undelivered_orders", "repeat_customers", "nonpackage_orders")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_store_code_upper", table, [sa.text("upper(store_code)")], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_store_code_upper", table_name=table)
