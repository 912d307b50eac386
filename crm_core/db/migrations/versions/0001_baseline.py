"""baseline schema

Revision ID: 0001_baseline
Revises: (none)
Create Date: 2026-11-22 15:36:34.659750
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "documents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("doc_type", sa.String(length=50), nullable=False),
        sa.Column("doc_subtype", sa.String(length=50), nullable=True),
        sa.Column("doc_date", sa.Date(), nullable=True),
        sa.Column("reference_name_1", sa.String(length=50), nullable=True),
        sa.Column("reference_id_1", sa.String(length=100), nullable=True),
        sa.Column("reference_name_2", sa.String(length=50), nullable=True),
        sa.Column("reference_id_2", sa.String(length=100), nullable=True),
        sa.Column("reference_name_3", sa.String(length=50), nullable=True),
        sa.Column("reference_id_3", sa.String(length=100), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column(
            "mime_type", sa.String(length=100), server_default=sa.text("'application/pdf'"), nullable=False
        ),
        sa.Column("file_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("storage_backend", sa.String(length=10), server_default=sa.text("'fs'"), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("checksum", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), server_default=sa.text("'ok'"), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_documents_status")),
        sa.CheckConstraint(
            "storage_backend IN ('fs', 'db', 's3')", name=op.f("ck_documents_storage_backend")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index("idx_documents_ref1", "documents", ["reference_name_1", "reference_id_1"], unique=False)
    op.create_index("idx_documents_ref2", "documents", ["reference_name_2", "reference_id_2"], unique=False)
    op.create_index("idx_documents_ref3", "documents", ["reference_name_3", "reference_id_3"], unique=False)
    op.create_index("idx_documents_type", "documents", ["doc_type", "doc_subtype", "doc_date"], unique=False)
    op.create_table(
        "email_sends",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline_code", sa.Text(), nullable=False),
        sa.Column("profile_code", sa.Text(), nullable=False),
        sa.Column("store_code", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column(
            "recipients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attachments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('sent', 'outbox', 'failed')", name=op.f("ck_email_sends_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_sends")),
        sa.UniqueConstraint("run_id", "profile_code", "store_code", name="uq_email_sends_run_profile_store"),
    )
    op.create_table(
        "missed_leads",
        sa.Column("pickup_row_id", sa.Integer(), nullable=False),
        sa.Column("mobile_number", sa.Text(), nullable=False),
        sa.Column("pickup_no", sa.Text(), nullable=False),
        sa.Column("pickup_created_date", sa.Date(), nullable=True),
        sa.Column("pickup_created_time", sa.Text(), nullable=True),
        sa.Column("store_code", sa.Text(), nullable=False),
        sa.Column("store_name", sa.Text(), nullable=True),
        sa.Column("pickup_date", sa.Date(), nullable=True),
        sa.Column("pickup_time", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("special_instruction", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("final_source", sa.Text(), nullable=True),
        sa.Column("customer_type", sa.Text(), nullable=True),
        sa.Column("is_order_placed", sa.Boolean(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("run_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("store_code", "pickup_no", name=op.f("pk_missed_leads")),
    )
    op.create_index("ix_missed_leads_run_date", "missed_leads", ["run_date"], unique=False)
    op.create_table(
        "nonpackage_orders",
        sa.Column("store_code", sa.Text(), nullable=False),
        sa.Column("store_name", sa.Text(), nullable=True),
        sa.Column("mobile_no", sa.Text(), nullable=False),
        sa.Column("taxable_amount", sa.Double(), nullable=True),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("expected_delivery_date", sa.Date(), nullable=True),
        sa.Column("actual_delivery_date", sa.Date(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("run_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("store_code", "mobile_no", name=op.f("pk_nonpackage_orders")),
    )
    op.create_index("ix_nonpackage_orders_run_date", "nonpackage_orders", ["run_date"], unique=False)
    op.create_table(
        "pipeline_run_summaries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("pipeline_name", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("run_env", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_time_taken", sa.String(length=8), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("overall_status", sa.String(length=32), nullable=False),
        sa.Column("summary_text", sa.Text(), nullable=False),
        sa.Column(
            "phases_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "metrics_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "total_time_taken LIKE '__:__:__'", name=op.f("ck_pipeline_run_summaries_total_time_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_run_summaries")),
        sa.UniqueConstraint("run_id", name=op.f("uq_pipeline_run_summaries_run_id")),
    )
    op.create_index(
        "ix_pipeline_run_summaries_pipeline_report_date",
        "pipeline_run_summaries",
        ["pipeline_name", "report_date"],
        unique=False,
    )
    op.create_table(
        "pipelines",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("code", name=op.f("uq_pipelines_code")),
    )
    op.create_table(
        "repeat_customers",
        sa.Column("store_code", sa.Text(), nullable=False),
        sa.Column("mobile_no", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("run_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("store_code", "mobile_no", name=op.f("pk_repeat_customers")),
    )
    op.create_index("ix_repeat_customers_run_date", "repeat_customers", ["run_date"], unique=False)
    op.create_table(
        "store_master",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("store_code", sa.Text(), nullable=False),
        sa.Column("store_name", sa.Text(), nullable=True),
        sa.Column("gstin", sa.Text(), nullable=True),
        sa.Column("launch_date", sa.Date(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("etl_flag", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("report_flag", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_master")),
        sa.UniqueConstraint("store_code", name=op.f("uq_store_master_store_code")),
    )
    op.create_table(
        "undelivered_orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=True),
        sa.Column("store_code", sa.Text(), nullable=False),
        sa.Column("store_name", sa.Text(), nullable=True),
        sa.Column("taxable_amount", sa.Double(), nullable=True),
        sa.Column("net_amount", sa.Double(), nullable=True),
        sa.Column("service_code", sa.Text(), nullable=True),
        sa.Column("mobile_no", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("expected_deliver_on", sa.Date(), nullable=True),
        sa.Column("actual_deliver_on", sa.Date(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("run_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("store_code", "order_id", name=op.f("pk_undelivered_orders")),
    )
    op.create_index("ix_undelivered_orders_run_date", "undelivered_orders", ["run_date"], unique=False)
    op.create_table(
        "notification_profiles",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("pipeline_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("env", sa.Text(), server_default=sa.text("'any'"), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("attach_mode", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint(
            "attach_mode IN ('none', 'per_store_pdf', 'all_store_pdfs', 'all_docs_for_run')",
            name=op.f("ck_notification_profiles_attach_mode"),
        ),
        sa.CheckConstraint(
            "env IN ('dev', 'prod', 'local', 'any')", name=op.f("ck_notification_profiles_env")
        ),
        sa.CheckConstraint(
            "scope IN ('run', 'store', 'combined')", name=op.f("ck_notification_profiles_scope")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_notification_profiles_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_profiles")),
        sa.UniqueConstraint("pipeline_id", "code", "env", name="uq_notification_profiles_pipeline_code_env"),
    )
    op.create_table(
        "store_dashboard_summary",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("store_id", sa.BigInteger(), nullable=False),
        sa.Column("dashboard_date", sa.Date(), nullable=False),
        sa.Column("run_date_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("prev_month_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("target_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("lmt_d_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("mtd_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("ftd_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("tgt_vs_ach_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("growth_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("extrapolated_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("pickup_new_count", sa.Integer(), nullable=True),
        sa.Column("pickup_new_conv_count", sa.Integer(), nullable=True),
        sa.Column("pickup_new_conv_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("pickup_existing_count", sa.Integer(), nullable=True),
        sa.Column("pickup_existing_conv_count", sa.Integer(), nullable=True),
        sa.Column("pickup_existing_conv_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("pickup_total_count", sa.Integer(), nullable=True),
        sa.Column("pickup_total_conv_count", sa.Integer(), nullable=True),
        sa.Column("pickup_total_conv_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("delivery_total_orders", sa.Integer(), nullable=True),
        sa.Column("delivery_within_tat_count", sa.Integer(), nullable=True),
        sa.Column("delivery_tat_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("delivery_total_delivered", sa.Integer(), nullable=True),
        sa.Column("delivery_undel_over_10_days", sa.Integer(), nullable=True),
        sa.Column("delivery_total_undelivered", sa.Integer(), nullable=True),
        sa.Column("repeat_customer_base_6m", sa.Integer(), nullable=True),
        sa.Column("repeat_orders", sa.Integer(), nullable=True),
        sa.Column("repeat_total_base_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("package_target", sa.Integer(), nullable=True),
        sa.Column("package_new", sa.Integer(), nullable=True),
        sa.Column("package_ftd", sa.Integer(), nullable=True),
        sa.Column("package_achievement_pct", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("package_overall", sa.Integer(), nullable=True),
        sa.Column("package_non_pkg_over_800", sa.Integer(), nullable=True),
        sa.Column("package_non_pkg_over_800_undelivered", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_master.id"],
            name=op.f("fk_store_dashboard_summary_store_id_store_master"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_dashboard_summary")),
        sa.UniqueConstraint("store_id", "dashboard_date", name="uq_store_dashboard_summary_store_date"),
    )
    op.create_table(
        "email_templates",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("subject_template", sa.Text(), nullable=False),
        sa.Column("body_template", sa.Text(), nullable=False),
        sa.Column("html_template", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["notification_profiles.id"],
            name=op.f("fk_email_templates_profile_id_notification_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
        sa.UniqueConstraint("profile_id", "name", name="uq_email_templates_profile_name"),
    )
    op.create_table(
        "notification_recipients",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("store_code", sa.Text(), nullable=True),
        sa.Column("env", sa.Text(), server_default=sa.text("'any'"), nullable=False),
        sa.Column("email_address", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("send_as", sa.Text(), server_default=sa.text("'to'"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "env IN ('dev', 'prod', 'local', 'any')", name=op.f("ck_notification_recipients_env")
        ),
        sa.CheckConstraint("send_as IN ('to', 'cc', 'bcc')", name=op.f("ck_notification_recipients_send_as")),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["notification_profiles.id"],
            name=op.f("fk_notification_recipients_profile_id_notification_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_recipients")),
    )
    op.create_index(
        "ix_notification_recipients_profile_id", "notification_recipients", ["profile_id"], unique=False
    )


def downgrade() -> None:

    op.drop_index("ix_notification_recipients_profile_id", table_name="notification_recipients")
    op.drop_table("notification_recipients")
    op.drop_table("email_templates")
    op.drop_table("store_dashboard_summary")
    op.drop_table("notification_profiles")
    op.drop_index("ix_undelivered_orders_run_date", table_name="undelivered_orders")
    op.drop_table("undelivered_orders")
    op.drop_table("store_master")
    op.drop_index("ix_repeat_customers_run_date", table_name="repeat_customers")
    op.drop_table("repeat_customers")
    op.drop_table("pipelines")
    op.drop_index("ix_pipeline_run_summaries_pipeline_report_date", table_name="pipeline_run_summaries")
    op.drop_table("pipeline_run_summaries")
    op.drop_index("ix_nonpackage_orders_run_date", table_name="nonpackage_orders")
    op.drop_table("nonpackage_orders")
    op.drop_index("ix_missed_leads_run_date", table_name="missed_leads")
    op.drop_table("missed_leads")
    op.drop_table("email_sends")
    op.drop_index("idx_documents_type", table_name="documents")
    op.drop_index("idx_documents_ref3", table_name="documents")
    op.drop_index("idx_documents_ref2", table_name="documents")
    op.drop_index("idx_documents_ref1", table_name="documents")
    op.drop_table("documents")
