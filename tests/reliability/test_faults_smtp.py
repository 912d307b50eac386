"""The mail server down for a whole daily run, then up: the data and PDFs are delivered, every undelivered
email is named, and the rerun of the day sends each of them once. (`crm notifications send` catching up
the same run is proved in tests/flows/test_daily_flow.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import Document, EmailSend
from tests.conftest import free_port
from tests.flows.test_daily_flow import messages, run_daily
from tests.reliability.conftest import BUCKETS, issues, stored_rows

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_harness"),
]


async def test_smtp_down_for_the_run_then_the_rerun_sends_each_email_once(
    db: AsyncEngine, env: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Any]
) -> None:
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nobody listens there
    state, result = await run_daily()
    assert state.is_completed() and result["status"] == "warning", result["summary_text"]
    email = result["metrics"]["email"]
    assert email["status"] == "failed" and email["message"] == "0 of 3 emails delivered"
    # Each undelivered email is named (profile and store), in the stored summary too.
    failed = [i for i in issues(result) if "failed" in i and ("A668" in i or "A817" in i or "summary" in i)]
    assert len(failed) >= 3, issues(result)
    for line in failed:
        assert line in result["summary_text"]
    # The rest was delivered: every bucket stored, both PDFs rendered and recorded.
    assert all(result["metrics"]["buckets"][b]["verdict"] == "ok" for b in BUCKETS)
    stored = await stored_rows(db)
    assert all(stored[b] == result["metrics"]["buckets"][b]["counts"]["merged_rows"] > 0 for b in BUCKETS)
    assert result["metrics"]["pdf"]["generated"] == 2
    async with session_factory(db)() as session:
        sends = (await session.execute(select(EmailSend))).scalars().all()
        assert sorted(s.status for s in sends) == ["failed"] * 3
        documents = (await session.execute(select(Document))).scalars().all()
        assert sorted(d.reference_id_3 for d in documents) == ["A668", "A817"]

    # The mail server is back: the rerun of the day sends the two store reports and its summary, once.
    monkeypatch.setenv("SMTP_PORT", str(smtp_server[0]))
    state, again = await run_daily()
    assert state.is_completed() and again["status"] == "ok", again["summary_text"]
    assert again["metrics"]["email"]["status"] == "sent"
    sent = messages(smtp_server)
    attachments = sorted(p.get_filename() for m in sent for p in m.iter_attachments())
    assert attachments == ["A668_2025-11-19.pdf", "A817_2025-11-19.pdf"]
    assert len(sent) == 3 and any("ok" in m["Subject"].lower() for m in sent)
    assert await stored_rows(db) == stored  # the rerun updated the same rows

    async with session_factory(db)() as session:
        delivered = (
            (await session.execute(select(EmailSend).where(EmailSend.status == "sent"))).scalars().all()
        )
        assert sorted(str(s.store_code) for s in delivered if s.store_code) == ["A668", "A817"]
        assert len(delivered) == 3
