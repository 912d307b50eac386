"""SQLAlchemy 2 models for every table.

Types are portable between PostgreSQL and SQLite: JSON becomes JSONB on PostgreSQL, big integer keys become
SQLite's INTEGER rowid. The ingest tables are built from the export registry and the dashboard summary's
metric columns from `crm_core.dashboard`, so no column list is written twice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeEngine

from crm_core.dashboard import METRICS, NUMERIC_DIGITS
from crm_core.exports import EXPORTS, ColumnKind, ExportSpec
from crm_core.text import refuse_control_characters

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (rowid alias, auto-increments) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
UtcDateTime = DateTime(timezone=True)
# CURRENT_TIMESTAMP is understood by both PostgreSQL and SQLite (now() is not).
NOW = text("CURRENT_TIMESTAMP")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _timestamps() -> tuple[Column[Any], Column[Any]]:
    return (
        Column("created_at", UtcDateTime, nullable=False, server_default=NOW),
        Column("updated_at", UtcDateTime, nullable=False, server_default=NOW),
    )


# --- ingest tables, derived from the export registry -------------------------------------------------

_SQL_TYPES: dict[ColumnKind, TypeEngine[Any]] = {
    "text": Text(),
    "int": Integer(),
    "float": Double(),
    "date": Date(),
    "bool": Boolean(),
}


def _ingest_table(spec: ExportSpec) -> Table:
    columns = [
        Column(col.name, _SQL_TYPES[col.kind], nullable=col.name not in spec.required_columns)
        for col in spec.columns
    ]
    table = Table(
        spec.table,
        Base.metadata,
        *columns,
        Column("run_id", String(64), nullable=True),
        Column("run_date", Date, nullable=True),
        *_timestamps(),
        PrimaryKeyConstraint(*spec.keys),
        Index(f"ix_{spec.table}_run_date", "run_date"),
    )
    # Reports select a store's rows by upper(store_code): without this index each of them reads the
    # whole table, so report loading grew with stores × rows.
    Index(f"ix_{spec.table}_store_code_upper", func.upper(table.c.store_code))
    return table


INGEST_TABLES: dict[str, Table] = {bucket: _ingest_table(spec) for bucket, spec in EXPORTS.items()}


# --- stores and dashboard figures ---------------------------------------------------------------------


class StoreMaster(Base):
    __tablename__ = "store_master"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_code: Mapped[str] = mapped_column(Text, unique=True)
    store_name: Mapped[str | None] = mapped_column(Text)
    gstin: Mapped[str | None] = mapped_column(Text)
    launch_date: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    etl_flag: Mapped[bool] = mapped_column(Boolean, server_default=false())
    report_flag: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)

    @validates("store_name")
    def _no_control_characters(self, key: str, value: str | None) -> str | None:
        # The name goes into email subjects and PDFs: a line break in it would inject headers.
        return refuse_control_characters(value, "store name")


_METRIC_TYPES: dict[str, TypeEngine[Any]] = {
    "money": Numeric(*NUMERIC_DIGITS["money"]),
    "pct": Numeric(*NUMERIC_DIGITS["pct"]),
    "count": Integer(),
}

store_dashboard_summary = Table(
    "store_dashboard_summary",
    Base.metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("store_id", BigInteger, ForeignKey("store_master.id", ondelete="CASCADE"), nullable=False),
    Column("dashboard_date", Date, nullable=False),
    Column("run_date_time", UtcDateTime, nullable=False),
    Column("run_id", String(64), nullable=True),
    *(Column(m.name, _METRIC_TYPES[m.kind], nullable=True) for m in METRICS),
    *_timestamps(),
    UniqueConstraint("store_id", "dashboard_date", name="uq_store_dashboard_summary_store_date"),
)


# --- runs and documents --------------------------------------------------------------------------------


class PipelineRunSummary(Base):
    __tablename__ = "pipeline_run_summaries"
    __table_args__ = (
        # Portable form of the legacy HH:MM:SS check (SQLite has no regex operator).
        CheckConstraint("total_time_taken LIKE '__:__:__'", name="total_time_format"),
        Index("ix_pipeline_run_summaries_pipeline_report_date", "pipeline_name", "report_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pipeline_name: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    run_env: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    total_time_taken: Mapped[str] = mapped_column(String(8))
    report_date: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    overall_status: Mapped[str] = mapped_column(String(32))
    summary_text: Mapped[str] = mapped_column(Text)
    phases_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    metrics_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("storage_backend IN ('fs', 'db', 's3')", name="storage_backend"),
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        Index("idx_documents_ref1", "reference_name_1", "reference_id_1"),
        Index("idx_documents_ref2", "reference_name_2", "reference_id_2"),
        Index("idx_documents_ref3", "reference_name_3", "reference_id_3"),
        Index("idx_documents_type", "doc_type", "doc_subtype", "doc_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    doc_type: Mapped[str] = mapped_column(String(50))
    doc_subtype: Mapped[str | None] = mapped_column(String(50))
    doc_date: Mapped[date | None] = mapped_column(Date)
    reference_name_1: Mapped[str | None] = mapped_column(String(50))
    reference_id_1: Mapped[str | None] = mapped_column(String(100))
    reference_name_2: Mapped[str | None] = mapped_column(String(50))
    reference_id_2: Mapped[str | None] = mapped_column(String(100))
    reference_name_3: Mapped[str | None] = mapped_column(String(50))
    reference_id_3: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String(100), server_default=text("'application/pdf'"))
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_backend: Mapped[str] = mapped_column(String(10), server_default=text("'fs'"))
    file_path: Mapped[str | None] = mapped_column(Text)
    checksum: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), server_default=text("'ok'"))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)
    created_by: Mapped[str | None] = mapped_column(String(64))
    # Set by `crm housekeeping` when retention deleted the file: the row stays, and says so.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- notifications -----------------------------------------------------------------------------------

ENV_VALUES = "('dev', 'prod', 'local', 'any')"


class Pipeline(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str] = mapped_column(Text)


class NotificationProfile(Base):
    __tablename__ = "notification_profiles"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "code", "env", name="uq_notification_profiles_pipeline_code_env"),
        CheckConstraint(f"env IN {ENV_VALUES}", name="env"),
        CheckConstraint("scope IN ('run', 'store', 'combined')", name="scope"),
        CheckConstraint(
            "attach_mode IN ('none', 'per_store_pdf', 'all_store_pdfs', 'all_docs_for_run', 'combined_pdf')",
            name="attach_mode",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("pipelines.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    env: Mapped[str] = mapped_column(Text, server_default=text("'any'"))
    scope: Mapped[str] = mapped_column(Text)
    attach_mode: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class EmailTemplate(Base):
    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("profile_id", "name", name="uq_email_templates_profile_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notification_profiles.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    subject_template: Mapped[str] = mapped_column(Text)
    body_template: Mapped[str] = mapped_column(Text)
    html_template: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class NotificationRecipient(Base):
    __tablename__ = "notification_recipients"
    __table_args__ = (
        CheckConstraint(f"env IN {ENV_VALUES}", name="env"),
        CheckConstraint("send_as IN ('to', 'cc', 'bcc')", name="send_as"),
        Index("ix_notification_recipients_profile_id", "profile_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notification_profiles.id", ondelete="CASCADE")
    )
    store_code: Mapped[str | None] = mapped_column(Text)
    env: Mapped[str] = mapped_column(Text, server_default=text("'any'"))
    email_address: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    send_as: Mapped[str] = mapped_column(Text, server_default=text("'to'"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)

    @validates("email_address", "display_name")
    def _no_control_characters(self, key: str, value: str | None) -> str | None:
        # Every writer through the models is covered; rows written past them are caught before sending.
        return refuse_control_characters(value, f"recipient {key.replace('_', ' ')}")


class EmailSend(Base):
    """One row per planned email of a run: the send log that prevents sending the same email twice."""

    __tablename__ = "email_sends"
    __table_args__ = (
        UniqueConstraint("run_id", "profile_code", "store_code", name="uq_email_sends_run_profile_store"),
        CheckConstraint("status IN ('sent', 'outbox', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    pipeline_code: Mapped[str] = mapped_column(Text)
    profile_code: Mapped[str] = mapped_column(Text)
    # '' for run-level emails so the unique key also holds for them (NULLs never collide).
    store_code: Mapped[str] = mapped_column(Text, server_default=text("''"))
    subject: Mapped[str] = mapped_column(Text)
    recipients: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    attachments: Mapped[list[str] | None] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error_message: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(Text)
    # The run status a run-level email reported: a rerun of the date resends it only when that changed.
    run_status: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=NOW)
