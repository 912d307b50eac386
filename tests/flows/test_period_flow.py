"""The weekly and monthly flows end to end: real PDFs from stored dashboard history, real PostgreSQL (and
SQLite), aiosmtpd as SMTP, inside a Prefect test server; `crm run weekly` as two concurrent processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import Document, EmailSend, PipelineRunSummary
from crm_core.demo import seed_dashboard_history, seed_demo
from crm_core.periods import last_complete_period
from crm_core.pipelines import WEEKLY

pytestmark = [pytest.mark.usefixtures("prefect_harness")]
LAST = last_complete_period("week")
WEEKS = [LAST.start - timedelta(days=14), LAST.start - timedelta(days=7), LAST.start]
REPORT_STORES = ("A668", "A817")


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Demo stores and recipients, and dashboard history for the three weeks up to the last complete one."""
    engine = make_engine(db_url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
        await seed_dashboard_history(session, LAST.end + timedelta(days=1), days=21)
    yield engine
    await engine.dispose()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, smtp_server: tuple[int, Any]) -> Path:
    home = tmp_path / "home"
    values = {
        "CRM_HOME": str(home),
        "DATABASE_URL": db_url,
        "CRM_REPORTS_START": WEEKS[0].isoformat(),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server[0]),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "TSV Reports <reports@example.com>",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return home


async def counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with session_factory(engine)() as session:
        summaries = (
            await session.execute(
                select(func.count())
                .select_from(PipelineRunSummary)
                .where(PipelineRunSummary.pipeline_name == WEEKLY.code)
            )
        ).scalar_one()
        documents = (
            await session.execute(
                select(func.count()).select_from(Document).where(Document.doc_type == WEEKLY.document_type)
            )
        ).scalar_one()
        emails = (
            await session.execute(
                select(func.count()).select_from(EmailSend).where(EmailSend.pipeline_code == WEEKLY.code)
            )
        ).scalar_one()
    return summaries, documents, emails


def attachments(message: EmailMessage) -> list[str]:
    return [part.get_filename() or "" for part in message.iter_attachments()]


async def run_weekly(**parameters: Any) -> tuple[str, dict[str, Any]]:
    from flows.weekly import weekly_flow

    state = await weekly_flow(**parameters, return_state=True)
    data = await state.aresult(raise_on_failure=False)
    assert isinstance(data, dict), data
    return str(state.type.value), data


async def test_three_missed_weeks_in_one_run_then_a_rerun_does_nothing(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    state, result = await run_weekly()
    assert state == "COMPLETED", result
    produced = result["periods"]
    assert [p["start"] for p in produced] == [w.isoformat() for w in WEEKS]
    assert all(p["action"] == "produced" and p["status"] in ("ok", "warning") for p in produced)
    assert len({p["run_id"] for p in produced}) == 3
    pdfs = [pdf for p in produced for pdf in p["pdfs"]]
    assert len(pdfs) == 9 and all(await asyncio.to_thread(lambda: [os.path.isfile(f) for f in pdfs]))
    assert "Weekly PDFs: 3 generated for period" in produced[0]["summary_text"]
    assert await counts(db) == (3, 9, 9)  # per week: 2 store PDFs + ALL; 2 store emails + run summary

    messages = [m["message"] for m in smtp_server[1].messages]
    assert len(messages) == 9
    for week in produced:
        label = week["label"]
        mine = [m for m in messages if any(label in name for name in attachments(m))]
        store_mails = sorted(name for m in mine for name in attachments(m) if not name.startswith("ALL"))
        assert store_mails == [f"{code}_week_{label}.pdf" for code in REPORT_STORES] or len(store_mails) == 2
        summary = [m for m in mine if attachments(m) and attachments(m)[0].startswith("ALL")]
        assert len(summary) == 1 and len(attachments(summary[0])) == 1, [attachments(m) for m in mine]
        assert week["run_id"] in summary[0].get_body(("plain",)).get_content()

    state, again = await run_weekly()
    assert state == "COMPLETED" and again["periods"] == []
    assert await counts(db) == (3, 9, 9)
    assert len(smtp_server[1].messages) == 9


async def test_an_error_week_is_retried_and_force_redoes_a_produced_one(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    _, first = await run_weekly(max_periods=3)
    middle = first["periods"][1]
    async with session_factory(db)() as session, session.begin():
        row = (
            await session.execute(
                select(PipelineRunSummary).where(PipelineRunSummary.run_id == middle["run_id"])
            )
        ).scalar_one()
        row.overall_status = "error"
        # As a run that really ended in error would have: its run summary email reported `error`.
        sent = (
            await session.execute(
                select(EmailSend).where(EmailSend.run_id == middle["run_id"], EmailSend.store_code == "")
            )
        ).scalar_one()
        sent.run_status = "error"
    sent_before = len(smtp_server[1].messages)

    _, retried = await run_weekly()
    assert [(p["label"], p["action"]) for p in retried["periods"]] == [(middle["label"], "produced")]
    assert retried["periods"][0]["run_id"] != middle["run_id"]
    # The retry's run summary goes out (the status changed); the stores already have that week's PDFs.
    new_mail = smtp_server[1].messages[sent_before:]
    assert [attachments(m["message"])[0][:3] for m in new_mail] == ["ALL"]

    _, skipped = await run_weekly(period=WEEKS[2].isoformat())
    assert skipped["periods"][0]["action"] == "skipped"
    _, forced = await run_weekly(period=(WEEKS[2] + timedelta(days=3)).isoformat(), force=True)
    assert forced["periods"][0]["action"] == "produced"
    assert forced["periods"][0]["end"] == LAST.end.isoformat()
    summaries, documents, _ = await counts(db)
    assert (summaries, documents) == (5, 15)


CRM = str(Path(sys.executable).with_name("crm"))


async def _seed_for_cli(url: str) -> None:
    engine = make_engine(url)
    async with session_factory(engine)() as session, session.begin():
        await seed_demo(session)
        await seed_dashboard_history(session, LAST.end + timedelta(days=1), days=21)
    await engine.dispose()


async def _counts_at(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        return await counts(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_two_concurrent_cli_runs_produce_each_week_once(pg_url: str, tmp_path: Path) -> None:
    asyncio.run(_seed_for_cli(pg_url))
    own = ("CRM_", "DATABASE_URL", "SMTP_", "PREFECT_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    processes = []
    for n in (1, 2):
        env = base | {
            "CRM_HOME": str(tmp_path / "home"),
            "DATABASE_URL": pg_url,
            "CRM_REPORTS_START": WEEKS[0].isoformat(),
            "PREFECT_HOME": str(tmp_path / f"prefect{n}"),  # each its own temporary Prefect server
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        command = [CRM, "run", "weekly"]
        processes.append(
            subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    lines = [line for out in outputs for line in out.splitlines() if line.startswith("weekly ")]
    produced = [line.split()[1] for line in lines if "  produced  " in line]
    assert sorted(produced) == sorted(
        f"{w.isoformat()}_to_{(w + timedelta(days=6)).isoformat()}" for w in WEEKS
    ), outputs
    summaries, documents, _ = asyncio.run(_counts_at(pg_url))
    assert (summaries, documents) == (3, 9), outputs


async def test_a_database_behind_the_code_fails_the_flow_at_start(
    db: AsyncEngine, env: Path, smtp_server: tuple[int, Any]
) -> None:
    from crm_core.db import migrate
    from flows.weekly import weekly_flow

    await migrate.downgrade(db, "0003_email_run_status")
    state = await weekly_flow(return_state=True)
    assert state.is_failed()
    error = str(await state.aresult(raise_on_failure=False))
    assert f"database at revision 0003_email_run_status, code at {migrate.head_revision()}" in error
    assert "run `crm db upgrade`" in error
