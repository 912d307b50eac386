"""The failure hook on real flow runs (Prefect test server, aiosmtpd): a dry run alerts the log only; with
the database down the alert still reaches ALERT_EMAIL_TO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from sqlalchemy import text

from crm_core.db.engine import make_engine
from crm_core.pipelines import DAILY
from tasks.alerts import alert_hook
from tests.conftest import free_port

pytestmark = [pytest.mark.usefixtures("prefect_harness")]


@flow(name="alert-hook-probe", on_failure=[alert_hook(DAILY)], persist_result=False)
async def failing_flow(dry_run: bool = False) -> None:
    raise RuntimeError("the run broke")


@pytest.fixture
def alert_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, smtp_server: tuple[int, Any]) -> None:
    monkeypatch.setenv("CRM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server[0]))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    monkeypatch.setenv("ALERT_EMAIL_TO", "ops@example.com")
    for name in ("CRM_DB_BLOCK", "CRM_SMTP_BLOCK", "CRM_PORTAL_BLOCK"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("alert_env")
async def test_database_down_alert_reaches_alert_email_to(
    monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crm")
    state = await failing_flow(return_state=True)
    assert state.is_failed()
    received = smtp_server[1].messages
    assert len(received) == 1 and received[0]["rcpt_tos"] == ["ops@example.com"]
    message: Any = received[0]["message"]
    assert "ALERT" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "the run broke" in body and "could not be read" in body


@pytest.mark.postgres
@pytest.mark.usefixtures("alert_env")
async def test_failed_dry_run_sends_and_records_no_alert(
    monkeypatch: pytest.MonkeyPatch, pg_url: str, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    state = await failing_flow(dry_run=True, return_state=True)
    assert state.is_failed()
    assert smtp_server[1].messages == []
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM email_sends"))).scalar_one() == 0
    finally:
        await engine.dispose()

    # The same failure outside a dry run does alert (ALERT_EMAIL_TO: the database lists nobody).
    state = await failing_flow(return_state=True)
    assert state.is_failed() and len(smtp_server[1].messages) == 1
