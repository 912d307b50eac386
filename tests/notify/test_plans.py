"""Which emails a run's plans hold: recipients per header, attachments, rendered subjects, and the finding
for every email that will not go out."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import (
    Document,
    EmailTemplate,
    NotificationProfile,
    NotificationRecipient,
    Pipeline,
    PipelineRunSummary,
    StoreMaster,
)
from crm_core.db.stores import add_recipient
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
from tests.notify.test_notifications import RUN, run_document


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
        session.add(run_document("combined_pdf", combined, store="all"))
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


async def test_a_run_of_another_pipeline_names_the_pipeline_to_use(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    result = await plans(engine, pipeline="dashboard_weekly")
    assert (result.plans, result.findings) == (
        [],
        [
            "run run-notify-1 belongs to pipeline dashboard_daily, not dashboard_weekly "
            "(use --pipeline dashboard_daily)"
        ],
    )


async def test_only_files_this_run_drew_and_still_keeps_are_attached(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, settings = seeded
    reports = settings.reports_path
    real = reports / "A668_2025-11-17.pdf"
    # A file of store A668 for each way a document can be someone else's or gone; each exists on disk.
    decoys = {
        "named by something else than the pipeline": {"reference_name_1": "flow"},
        "of another pipeline": {"reference_id_1": "dashboard_weekly"},
        "named by something else than the run": {"reference_name_2": "batch"},
        "of another run": {"reference_id_2": "run-other"},
        "kept elsewhere than on the file system": {"storage_backend": "s3"},
        "deleted": {"deleted_at": datetime(2025, 11, 18, 4, 0, tzinfo=UTC)},
    }
    async with session_factory(engine)() as session, session.begin():
        for n, changes in enumerate(decoys.values()):
            path = reports / f"decoy-{n}.pdf"
            path.write_bytes(real.read_bytes())
            session.add(run_document("store_daily_pdf", path, store="A668", **changes))
    await change(
        engine,
        update(NotificationProfile)
        .where(NotificationProfile.code == "run_summary")
        .values(attach_mode="all_docs_for_run"),
    )
    result = await plans(engine)
    summary, a668, _ = result.plans
    assert a668.attachments == [real]
    assert sorted(summary.attachments) == [real, reports / "A817_2025-11-17.pdf"]


async def test_only_the_default_template_and_the_runs_env_recipients_are_used(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    async with session_factory(engine)() as session, session.begin():
        profile_id = (
            await session.execute(
                select(NotificationProfile.id)
                .join(Pipeline, Pipeline.id == NotificationProfile.pipeline_id)
                .where(NotificationProfile.code == "run_summary", Pipeline.code == "dashboard_daily")
            )
        ).scalar_one()
        session.add(
            EmailTemplate(
                profile_id=profile_id, name="digest", subject_template="Digest", body_template="Digest"
            )
        )
        await add_recipient(session, "store_daily_reports", "prod-only@example.com", env="prod")
    summary, a668, a817 = (await plans(engine)).plans
    assert summary.subject == "[TSV Pipeline Run] dashboard_daily | 2025-11-17 | OK"
    assert (a668.to, a668.cc, a668.bcc) == (["a668@example.com"], ["ops@example.com"], ["audit@example.com"])
    assert (a817.to, a817.cc, a817.bcc) == (["ops@example.com"], [], ["audit@example.com"])


async def test_a_store_template_that_fails_gives_each_store_email_the_plain_default(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    store_profile = select(NotificationProfile.id).where(NotificationProfile.code == "store_daily_reports")
    await change(
        engine,
        update(EmailTemplate)
        .where(EmailTemplate.profile_id == store_profile.scalar_subquery())
        .values(subject_template="{{ broken("),
    )
    result = await plans(engine)
    assert [f.split(" (")[0] for f in result.findings] == [
        f"template dashboard_daily/store_daily_reports failed for store {code}" for code in ("A668", "A817")
    ]
    assert all(
        "subject: TemplateSyntaxError" in f and f.endswith("the plain-text default is used for this email")
        for f in result.findings
    )
    summary, a668, _ = result.plans
    assert summary.html is not None
    assert (a668.subject, a668.html) == ("Uttam Nagar, Delhi (A668) report 2025-11-17", None)


async def test_what_a_template_renders_is_used_as_it_is_even_empty(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    await change(
        engine, update(EmailTemplate).values(subject_template="", body_template="", html_template=None)
    )
    result = await plans(engine)
    assert result.findings == []
    assert {(p.subject, p.text, p.html) for p in result.plans} == {("", "", None)}


async def test_an_email_that_cannot_be_planned_does_not_stop_the_next_ones(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, settings = seeded
    labels = ["run_summary/run", "store_daily_reports/A668", "store_daily_reports/A817"]
    # A profile whose scope the registry does not know: only that profile is skipped.
    run_summary = update(NotificationProfile).where(NotificationProfile.code == "run_summary")
    await change(engine, run_summary.values(scope="store"))
    result = await plans(engine)
    assert result.findings == [
        "profile dashboard_daily/run_summary: store scope is not defined for this pipeline/profile"
    ]
    assert [p.label for p in result.plans] == labels[1:]
    await change(engine, run_summary.values(scope="run"))
    # The first store's PDF is gone: the next store still gets its email.
    pdf = settings.reports_path / "A668_2025-11-17.pdf"
    kept = pdf.read_bytes()
    pdf.unlink()
    result = await plans(engine)
    assert result.findings == [
        "profile dashboard_daily/store_daily_reports: PDF for store A668 is missing on disk"
    ]
    assert [p.label for p in result.plans] == [labels[0], labels[2]]
    pdf.write_bytes(kept)
    # The first store has nobody to write to: the same.
    await change(
        engine,
        delete(NotificationRecipient).where(NotificationRecipient.email_address == "a668@example.com"),
        update(NotificationRecipient)
        .where(NotificationRecipient.email_address == "ops@example.com")
        .values(store_code="A817"),
    )
    result = await plans(engine)
    assert result.findings == ["profile dashboard_daily/store_daily_reports: no recipient for store A668"]
    assert [p.label for p in result.plans] == [labels[0], labels[2]]


async def test_a_run_email_without_a_to_is_not_sent_to_its_copies(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    await change(
        engine,
        delete(NotificationRecipient).where(NotificationRecipient.email_address == "owner@example.com"),
    )
    result = await plans(engine)
    assert result.findings == [
        "profile dashboard_daily/run_summary has no 'to' recipient without a store code"
    ]
    assert [p.label for p in result.plans] == ["store_daily_reports/A668", "store_daily_reports/A817"]


async def test_a_store_pdf_without_a_store_code_gets_no_email(seeded: tuple[AsyncEngine, Settings]) -> None:
    engine, settings = seeded
    path = settings.reports_path / "no-store_2025-11-17.pdf"
    path.write_bytes(b"%PDF-1.4\n% test\n%%EOF\n")
    async with session_factory(engine)() as session, session.begin():
        session.add(run_document("store_daily_pdf", path))
    result = await plans(engine)
    assert result.findings == []
    assert [p.label for p in result.plans] == [
        "run_summary/run",
        "store_daily_reports/A668",
        "store_daily_reports/A817",
    ]


async def test_templates_see_every_value_of_the_run_and_the_store(
    seeded: tuple[AsyncEngine, Settings],
) -> None:
    engine, _ = seeded
    values = "{{ pipeline_name }}|{{ pipeline_description }}|{{ run_id }}|{{ run_env }}|{{ report_date }}|"
    await change(
        engine,
        update(PipelineRunSummary).values(report_date=None),
        update(EmailTemplate).values(
            body_template=values
            + "{{ overall_status }}|{{ store_code | default('-') }}|{{ store_name | default('-') }}"
        ),
    )
    async with session_factory(engine)() as session:
        description = (
            await session.execute(select(Pipeline.description).where(Pipeline.code == "dashboard_daily"))
        ).scalar_one()
    assert description
    summary, a668, a817 = (await plans(engine)).plans
    assert summary.text == f"dashboard_daily|{description}|run-notify-1|dev||ok|-|-"
    assert a668.text == f"dashboard_daily|{description}|run-notify-1|dev||ok|A668|Uttam Nagar, Delhi"
    assert a817.text.endswith("|A817|A817")
