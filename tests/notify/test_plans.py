"""Which emails a run's plans hold: recipients per header, attachments, rendered subjects, and the finding
for every email that will not go out."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import (
    Document,
    EmailTemplate,
    NotificationProfile,
    NotificationRecipient,
    StoreMaster,
)
from crm_core.notify.plans import (
    PlanResult,
    _one_line,
    _Recipient,
    _split,
    build_plans,
    format_address,
    store_document_type,
)
from crm_core.settings import Settings
from tests.notify.test_notifications import REPORT_DATE, RUN


def r(email: str, send_as: str = "to", store: str | None = None) -> _Recipient:
    return _Recipient(email, email, send_as, store)


def test_each_address_goes_in_one_header_only_the_first_that_names_it() -> None:
    to, cc, bcc = _split(
        [
            r("a@x.com"),
            r("A@X.com"),
            r("a@x.com", "cc"),
            r("b@x.com", "cc"),
            r("B@x.com", "bcc"),
            r("c@x.com", "bcc"),
        ],
        promote_cc=False,
    )
    assert ([x.email for x in to], [x.email for x in cc], [x.email for x in bcc]) == (
        ["a@x.com"],
        ["b@x.com"],
        ["c@x.com"],
    )
    # without a "to", the copies become the "to" only when asked (store emails), and bcc stays bcc
    to, cc, bcc = _split([r("b@x.com", "cc"), r("c@x.com", "bcc")], promote_cc=True)
    assert ([x.email for x in to], cc, [x.email for x in bcc]) == (["b@x.com"], [], ["c@x.com"])
    to, cc, _ = _split([r("b@x.com", "cc")], promote_cc=False)
    assert (to, [x.email for x in cc]) == ([], ["b@x.com"])


def test_addresses_subjects_and_document_types() -> None:
    assert format_address("a@x.com", None) == "a@x.com"
    assert format_address("a@x.com", "Doe, John") == '"Doe, John" <a@x.com>'
    assert _one_line(" Report\r\nBcc: x@y.com\t for  A668 ") == "Report Bcc: x@y.com for A668"
    assert store_document_type("dashboard_daily", "store_daily_reports") == "store_daily_pdf"
    assert store_document_type("dashboard_daily", "run_summary") is None
    assert store_document_type("nope", "store_daily_reports") is None


async def plans(engine: AsyncEngine, run_id: str = RUN, pipeline: str = "dashboard_daily") -> PlanResult:
    async with session_factory(engine)() as session:
        return await build_plans(session, pipeline, run_id)


async def change(engine: AsyncEngine, *statements: object) -> None:
    async with session_factory(engine)() as session, session.begin():
        for statement in statements:
            await session.execute(statement)  # type: ignore[call-overload]


async def test_a_seeded_run_plans_a_summary_and_one_email_per_store(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, settings = seeded
    result = await plans(engine)
    assert (result.findings, result.run_env) == ([], "dev")
    summary, a668, a817 = result.plans
    assert (summary.profile_code, summary.store_code, summary.store_key, summary.label) == (
        "run_summary",
        None,
        "",
        "run_summary/run",
    )
    assert summary.subject == "[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK"
    assert (summary.to, summary.cc, summary.bcc, summary.attachments) == (
        ["owner@example.com"],
        ["admin@example.com"],
        [],
        [],
    )
    assert summary.text.startswith("Pipeline: dashboard_daily\nRun ID: run-notify-1\n")  # the summary text
    assert "(Env: dev, Run ID: run-notify-1)" in summary.text and summary.html is not None
    assert {p.pipeline_code for p in result.plans} == {"dashboard_daily"}
    reports = settings.reports_path
    assert (a668.store_code, a668.store_key, a668.label) == ("A668", "A668", "store_daily_reports/A668")
    assert a668.subject == "Uttam Nagar, Delhi Daily Performance Report 2025-11-17"
    assert (a668.to, a668.cc, a668.bcc) == (["a668@example.com"], ["ops@example.com"], ["audit@example.com"])
    assert (a668.stored_to, a668.stored_cc, a668.stored_bcc) == (a668.to, a668.cc, a668.bcc)
    assert a668.attachments == [reports / "A668_2025-11-17.pdf"]
    # A817 has no store "to": its cc is promoted; a store without a name is shown by its code
    assert a817.subject == "A817 Daily Performance Report 2025-11-17"
    assert (a817.to, a817.cc, a817.bcc) == (["ops@example.com"], [], ["audit@example.com"])
    assert a817.attachments == [reports / "A817_2025-11-17.pdf"]
    assert "for A817 (A817), for 2025-11-17" in a817.text


async def test_only_this_runs_live_documents_are_planned(seeded: tuple[AsyncEngine, Settings]) -> None:
    engine, _ = seeded
    await change(engine, update(Document).where(Document.reference_id_3 == "A817").values(status="error"))
    assert [p.store_code for p in (await plans(engine)).plans] == [None, "A668"]
    await change(
        engine,
        update(NotificationProfile).where(NotificationProfile.code == "run_summary").values(is_active=False),
    )
    assert [p.store_code for p in (await plans(engine)).plans] == ["A668"]
    assert (await plans(engine, run_id="other")).findings == ["run summary for run other not found"]
    assert (await plans(engine, pipeline="nope")).findings == [
        "pipeline nope is not registered in notification metadata"
    ]


async def test_every_email_not_planned_has_a_finding(seeded: tuple[AsyncEngine, Settings]) -> None:
    engine, settings = seeded
    (settings.reports_path / "A817_2025-11-17.pdf").unlink()
    await change(
        engine,
        delete(NotificationRecipient).where(NotificationRecipient.email_address == "admin@example.com"),
        update(NotificationRecipient)
        .where(NotificationRecipient.email_address == "owner@example.com")
        .values(store_code="A668"),
    )
    result = await plans(engine)
    assert [p.label for p in result.plans] == ["store_daily_reports/A668"]
    assert result.findings == [
        "profile dashboard_daily/run_summary has no 'to' recipient without a store code",
        "profile dashboard_daily/store_daily_reports: PDF for store A817 is missing on disk",
    ]
    await change(engine, update(NotificationRecipient).values(is_active=False))
    assert (await plans(engine)).findings == [
        "profile dashboard_daily/run_summary has no active recipient for env dev",
        "profile dashboard_daily/store_daily_reports has no active recipient for env dev",
    ]
    await change(engine, update(EmailTemplate).values(is_active=False))
    assert (await plans(engine)).findings == [
        "profile dashboard_daily/run_summary has no active 'default' template",
        "profile dashboard_daily/store_daily_reports has no active 'default' template",
    ]
    await change(engine, update(NotificationProfile).values(env="prod"))
    assert (await plans(engine)).findings == [
        "pipeline dashboard_daily has no active notification profile for env dev"
    ]


async def test_a_run_profile_attaches_what_its_mode_says(seeded: tuple[AsyncEngine, Settings]) -> None:
    engine, settings = seeded
    pdfs = [settings.reports_path / f"{code}_2025-11-17.pdf" for code in ("A668", "A817")]
    run_summary = update(NotificationProfile).where(NotificationProfile.code == "run_summary")
    await change(engine, run_summary.values(attach_mode="all_docs_for_run"))
    assert sorted((await plans(engine)).plans[0].attachments) == pdfs
    await change(engine, run_summary.values(attach_mode="all_store_pdfs"))
    assert sorted((await plans(engine)).plans[0].attachments) == pdfs
    await change(engine, run_summary.values(scope="combined"))
    result = await plans(engine)
    assert result.findings == ["profile dashboard_daily/run_summary: scope 'combined' is not supported"]
    assert [p.label for p in result.plans] == ["store_daily_reports/A668", "store_daily_reports/A817"]


async def test_a_combined_pdf_run_email_attaches_only_the_combined_document(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, settings = seeded
    combined = settings.reports_path / "combined_2025-11-17.pdf"
    combined.write_bytes(b"%PDF-1.4\n% test combined\n%%EOF\n")
    async with session_factory(engine)() as session, session.begin():
        # the stored code's case does not matter; the store PDFs of the same run are not attached
        session.add(
            Document(
                doc_type="combined_pdf",
                doc_date=REPORT_DATE,
                reference_name_1="pipeline",
                reference_id_1="dashboard_daily",
                reference_name_2="run_id",
                reference_id_2=RUN,
                reference_name_3="store_code",
                reference_id_3="all",
                file_name=combined.name,
                file_path=str(combined),
                status="ok",
            )
        )
    run_summary = update(NotificationProfile).where(NotificationProfile.code == "run_summary")
    await change(engine, run_summary.values(attach_mode="combined_pdf"))
    result = await plans(engine)
    assert result.findings == []
    assert result.plans[0].label == "run_summary/run"
    assert result.plans[0].attachments == [combined]


async def test_the_html_part_escapes_values_and_the_text_part_does_not(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    await change(
        engine,
        update(StoreMaster).where(StoreMaster.store_code == "A668").values(store_name="Rao & Sons <East>"),
        update(EmailTemplate).values(
            body_template="{{ store_name }}", html_template="<p>{{ store_name }}</p>"
        ),
    )
    result = await plans(engine)
    a668 = next(p for p in result.plans if p.store_code == "A668")
    assert (a668.text, a668.html) == ("Rao & Sons <East>", "<p>Rao &amp; Sons &lt;East&gt;</p>")


async def test_a_store_without_a_recipient_or_documents_is_a_finding(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    # the stores' shared cc goes: A817 has only a bcc left, which is never promoted to "to"
    await change(
        engine, delete(NotificationRecipient).where(NotificationRecipient.email_address == "ops@example.com")
    )
    result = await plans(engine)
    assert result.findings == ["profile dashboard_daily/store_daily_reports: no recipient for store A817"]
    assert [p.label for p in result.plans] == ["run_summary/run", "store_daily_reports/A668"]
    await change(engine, update(Document).values(doc_type="other"))
    assert (await plans(engine)).findings == [
        "profile dashboard_daily/store_daily_reports: no store_daily_pdf documents for run run-notify-1"
    ]
