"""No header injection through recipients: control characters are refused where recipients are stored (the
CLI, `add_recipient`, the model), and a row written past those checks (straight into the table) still
cannot redirect mail — the built message's recipients must equal the stored addresses, else that email is
not sent. Against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailSend, NotificationProfile, NotificationRecipient
from crm_core.db.stores import add_recipient
from crm_core.errors import ConfigError
from crm_core.notify.engine import send_notifications_for_run
from crm_core.settings import Settings
from tests.notify.test_notifications import RUN, logger, smtp_settings

EVIL = "eve@evil.example"
INJECTIONS = {
    "name with CRLF": ("a668@example.com", f"Eve\r\nBcc: {EVIL}"),
    "name with LF": ("a668@example.com", f"Eve\nTo: {EVIL}"),
    "address with CRLF": (f"a668@example.com\r\nBcc: {EVIL}", None),
}


async def test_every_writer_through_the_models_is_refused(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        with pytest.raises(ConfigError, match="recipient display name contains control characters"):
            await add_recipient(session, "run_summary", "real@x.example", display_name="Eve\u2028Bcc: x@y.z")
        profile_id = (await session.execute(select(NotificationProfile.id).limit(1))).scalar_one()
        with pytest.raises(ConfigError, match="recipient email address contains control characters"):
            NotificationRecipient(profile_id=profile_id, email_address="a@b.example\r\nBcc: x@y.z")
        recipient = NotificationRecipient(profile_id=profile_id, email_address="a@b.example")
        with pytest.raises(ConfigError, match="recipient display name"):
            recipient.display_name = "Eve\rBcc: x@y.z"
        # Ordinary names, with commas and accents, are fine.
        await add_recipient(session, "run_summary", "john@example.com", display_name="Doe, Jürgen")


@pytest.mark.parametrize("injection", list(INJECTIONS))
async def test_a_row_written_past_the_checks_gets_its_email_stopped(
    injection: str,
    seeded: tuple[AsyncEngine, Settings],
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    engine, settings = seeded
    address, name = INJECTIONS[injection]
    async with session_factory(engine)() as session, session.begin():
        profile_id = (
            await session.execute(
                select(NotificationProfile.id).where(NotificationProfile.code == "store_daily_reports")
            )
        ).scalar_one()
        # Core insert: no model, no validator — as another program or a hand-written SQL would do.
        await session.execute(
            insert(NotificationRecipient.__table__).values(  # type: ignore[arg-type]
                profile_id=profile_id,
                store_code="A817",
                env="any",
                email_address=address,
                display_name=name,
                send_as="to",
                is_active=True,
            )
        )
    port, handler = smtp_server
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )

    # The injected address received nothing, neither as envelope recipient nor in any header.
    assert all(EVIL not in m["rcpt_tos"] for m in handler.messages)
    assert all(EVIL not in str(m["message"]) for m in handler.messages)
    # A817's email was stopped and reported; the run summary and A668's email went out as usual.
    subjects = sorted(m["message"]["Subject"] for m in handler.messages)
    assert subjects == [
        "Uttam Nagar, Delhi Daily Performance Report 2025-11-17",
        "[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK",
    ]
    assert (outcome.delivered, outcome.failed) == (2, 1)
    (problem,) = outcome.problems
    assert problem.startswith("email store_daily_reports/A817 failed: not sent: the ")
    assert problem.endswith("fix it with crm recipients (after 1 attempt)")
    assert EVIL not in problem and "a668@example.com" not in problem  # who, not said: personal data
    async with session_factory(engine)() as session:
        failed = (await session.execute(select(EmailSend).where(EmailSend.status == "failed"))).scalar_one()
    assert failed.store_code == "A817" and failed.attempts == 1  # not retried: the data must change


async def test_one_address_stored_twice_with_other_names_or_case_gets_one_copy(
    seeded: tuple[AsyncEngine, Settings],
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    engine, settings = seeded
    async with session_factory(engine)() as session, session.begin():
        # ops@example.com is already a cc of every store; here also the "to" of A817, spelled otherwise.
        await add_recipient(
            session, "store_daily_reports", "OPS@Example.com", store_code="A817", display_name="Ops, A817"
        )
    port, handler = smtp_server
    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )
    assert (outcome.delivered, outcome.failed) == (3, 0)
    a817 = next(m for m in handler.messages if m["message"]["Subject"].startswith("A817"))
    assert a817["message"]["To"] == '"Ops, A817" <OPS@Example.com>' and a817["message"]["Cc"] is None
    assert sorted(a.lower() for a in a817["rcpt_tos"]) == ["audit@example.com", "ops@example.com"]
