"""Stored templates cannot take a send down: each attack on the sandbox's limits (time, memory, output,
errors Jinja does not classify) falls back to the plain-text default for that email, with a finding naming
the template and the problem, while every other email goes out — on SQLite and PostgreSQL, through a real
SMTP server (aiosmtpd)."""

from __future__ import annotations

import resource

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailSend, EmailTemplate, NotificationProfile
from crm_core.notify.engine import diagnose, send_notifications_for_run
from crm_core.notify.templates import RENDER_TIMEOUT_S, RenderJob, render_all
from crm_core.settings import Settings
from tests.notify.test_notifications import RUN, logger, smtp_settings

NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"

# template body → what the finding must say went wrong
ATTACKS = {
    "nested loops": (NESTED_LOOPS, f"stopped after {RENDER_TIMEOUT_S:g} s without finishing"),
    "string repetition": ("{{ 'x' * 300000000 }}", "MemoryError"),
    "percent format width": ("{{ '%999999999d' | format(1) }}", "MemoryError"),
    "str.format width": ("{{ '{:>999999999}'.format('a') }}", "MemoryError"),
    "output size": ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "OutputTooLarge: output over"),
    "include without loader": ("{% include 'other.txt' %}", "TypeError: no loader"),
    "division by zero": ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
    "recursive macro": ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "RecursionError"),
    "zero range step": ("{{ range(1, 2, 0) | list }}", "ValueError: range() arg 3 must not be zero"),
}


async def set_template(engine: AsyncEngine, profile_code: str, **values: str) -> None:
    async with session_factory(engine)() as session, session.begin():
        profile_ids = select(NotificationProfile.id).where(NotificationProfile.code == profile_code)
        await session.execute(
            update(EmailTemplate).where(EmailTemplate.profile_id.in_(profile_ids)).values(**values)
        )


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_an_attacking_store_template_falls_back_and_every_email_still_goes_out(
    attack: str,
    seeded: tuple[AsyncEngine, Settings],
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    engine, settings = seeded
    template, problem = ATTACKS[attack]
    await set_template(engine, "store_daily_reports", body_template=template)
    port, handler = smtp_server
    peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    outcome = await send_notifications_for_run(
        engine, smtp_settings(settings, port), "dashboard_daily", RUN, logger()
    )

    # Our own process never held the attack's memory: the render ran in the capped worker.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before_kb < 100 * 1024
    assert (outcome.planned, outcome.delivered, outcome.failed) == (3, 3, 0)
    by_subject = {m["message"]["Subject"]: m["message"] for m in handler.messages}
    # The run summary's own template was fine: rendered as stored.
    assert "[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK" in by_subject
    for code, name in (("A668", "Uttam Nagar, Delhi"), ("A817", "A817")):
        message = by_subject[f"{name} ({code}) report 2025-11-17"]
        assert message.get_body(("html",)) is None
        body = message.get_body(("plain",)).get_content()
        assert f"Attached is the report for {name} ({code}), 2025-11-17." in body
        assert [p.get_filename() for p in message.iter_attachments()] == [f"{code}_2025-11-17.pdf"]
        finding = next(f for f in outcome.findings if f"store {code}" in f)
        where = f"template dashboard_daily/store_daily_reports failed for store {code} (body: "
        assert finding.startswith(where)
        assert problem in finding and finding.endswith("the plain-text default is used for this email")
    async with session_factory(engine)() as session:
        statuses = (await session.execute(select(EmailSend.status))).scalars().all()
    assert sorted(statuses) == ["sent", "sent", "sent"]


async def test_notifications_test_names_the_failing_template(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, settings = seeded
    await set_template(engine, "run_summary", subject_template="{{ 1 / 0 }}", html_template=NESTED_LOOPS)
    findings = await diagnose(engine, settings, "dashboard_daily", RUN)
    (finding,) = [f for f in findings if f.startswith("template")]
    assert finding == (
        "template dashboard_daily/run_summary failed for the run (subject: ZeroDivisionError: division by "
        f"zero; html: stopped after {RENDER_TIMEOUT_S:g} s without finishing): the plain-text default is "
        "used for this email"
    )


def test_a_batch_goes_on_after_a_stopped_render_and_does_not_retry_it() -> None:
    jobs = [
        RenderJob("{{ name }} before", {"name": "A668"}),
        RenderJob(NESTED_LOOPS, {}),
        RenderJob(NESTED_LOOPS, {}),  # the same template again fails at once, not after another timeout
        RenderJob("<b>{{ name }}</b> after", {"name": "<A817>"}, html=True),
    ]
    results = render_all(jobs, timeout_s=2.0)
    assert [r.text for r in results] == ["A668 before", None, None, "<b>&lt;A817&gt;</b> after"]
    assert results[1].error == results[2].error == "stopped after 2 s without finishing"


def test_without_a_renderer_every_job_fails_instead_of_the_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/python3")
    results = render_all([RenderJob("a", {}), RenderJob("b", {}, html=True)])
    assert [r.text for r in results] == [None, None]
    assert all(r.error and r.error.startswith("the template renderer could not start") for r in results)
