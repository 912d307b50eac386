"""The migrations equal the models, and upgrade/downgrade/upgrade works on both dialects."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from crm_core.db import migrate
from crm_core.db.engine import make_engine
from crm_core.db.models import Base, EmailTemplate, NotificationProfile, Pipeline


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == []
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as conn:
            pipelines = (await conn.execute(select(Pipeline.code).order_by(Pipeline.code))).scalars().all()
            templates = (await conn.execute(select(text("count(*)")).select_from(EmailTemplate))).scalar()
            profiles = (await conn.execute(select(NotificationProfile.code))).scalars().all()
        assert pipelines == ["dashboard_daily", "dashboard_monthly", "dashboard_weekly"]
        assert "crm_downloader_daily" not in pipelines
        assert templates == 6
        assert sorted(set(profiles)) == [
            "run_summary",
            "store_daily_reports",
            "store_monthly_reports",
            "store_weekly_reports",
        ]
    finally:
        await engine.dispose()


def test_developer_alembic_ini_uses_the_packaged_migrations() -> None:
    # `alembic upgrade head` / `alembic revision --autogenerate` from the checkout must write where the
    # package (and so the wheel) reads.
    config = Config(str(Path(__file__).resolve().parents[1] / "alembic.ini"))
    location = Path(config.get_main_option("script_location") or "")
    assert location.resolve() == migrate.MIGRATIONS_DIR
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.head_revision()
    assert migrate.head_revision() is not None


async def test_combined_pdf_migration_keeps_templates_and_recipients(db_url: str) -> None:
    """Widening the attach-mode check copies notification_profiles on SQLite; the rows that reference it
    (templates, recipients) must survive, and the period run summaries carry the ALL PDF afterwards."""
    from crm_core.db.engine import session_factory
    from crm_core.db.models import NotificationRecipient
    from crm_core.db.stores import add_recipient, add_store

    engine = make_engine(db_url)
    try:
        await migrate.downgrade(engine, "0003_email_run_status")
        async with session_factory(engine)() as session, session.begin():
            await add_store(session, "A668", report=True)  # a recipient's store must exist
            await add_recipient(session, "store_weekly_reports", "a668@example.com", store_code="A668")
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            recipients = (await conn.execute(select(NotificationRecipient.email_address))).scalars().all()
            templates = (await conn.execute(select(text("count(*)")).select_from(EmailTemplate))).scalar()
            modes = (
                await conn.execute(
                    select(Pipeline.code, NotificationProfile.attach_mode)
                    .join(Pipeline, Pipeline.id == NotificationProfile.pipeline_id)
                    .where(NotificationProfile.code == "run_summary")
                )
            ).all()
        assert recipients == ["a668@example.com"]
        assert templates == 6
        assert dict(modes) == {
            "dashboard_daily": "none",
            "dashboard_weekly": "combined_pdf",
            "dashboard_monthly": "combined_pdf",
        }
    finally:
        await engine.dispose()
