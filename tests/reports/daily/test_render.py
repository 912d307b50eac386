"""render_store_reports: one documents row per render (ok / error), none when there is no data; a failing
store never stops the others; events of phase "report"."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import INGEST_TABLES, Document
from crm_core.json_logger import EventLogger
from crm_core.reports.daily import NO_DATA_MESSAGE, render_store_reports
from crm_core.reports.daily.layout import daily_pdf_path
from crm_core.settings import Settings

T = date(2025, 11, 17)


async def seed_stores(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    async with engine.begin() as conn:
        for code, name in (("ERR1", "Broken Path Store"), ("A817", "Kirti Nagar Delhi"), ("B200", None)):
            store = await seed.store(conn, code, name)
            await seed.summary(
                conn,
                store,
                T,
                pickup_total_conv_pct=Decimal("68.82"),
                ftd_revenue=Decimal("123456.50"),
                delivery_total_undelivered=2,
            )
        await seed.store(conn, "NODATA", "Quiet Store")
        await conn.execute(
            INGEST_TABLES["undelivered_all"].insert(),
            [
                seed.order("A817", f"T{i}", order_date=T - timedelta(days=i), net_amount=1000.0 * i)
                for i in range(3)
            ],
        )
        await conn.execute(
            INGEST_TABLES["missed_leads"].insert(),
            [
                seed.lead(
                    "A817", "P1", pickup_date=T, customer_name="Ramesh Kumar", mobile_number="9876543210"
                )
            ],
        )


async def test_documents_for_ok_error_and_no_data(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    await seed_stores(engine, seed)
    # A directory where ERR1's PDF must go makes its render fail for real.
    blocked = daily_pdf_path(settings.reports_path, "ERR1", T)
    blocked.mkdir(parents=True)
    logger = EventLogger("run-42", "dashboard_daily", stream=None, events=[])

    result = await render_store_reports(
        session_factory(engine), settings, ["ERR1", "a817", "NODATA", "B200"], T, "run-42", logger
    )
    outcomes = result.outcomes
    assert result.status == "error" and result.detail == "2 PDFs; 1 failed (ERR1); 1 without data (NODATA)"

    by_code = {o.store_code: o for o in outcomes}
    assert [o.store_code for o in outcomes] == ["ERR1", "A817", "NODATA", "B200"]
    assert [by_code[c].status for c in ("ERR1", "A817", "NODATA", "B200")] == ["error", "ok", "no_data", "ok"]
    assert by_code["NODATA"].message == NO_DATA_MESSAGE and by_code["NODATA"].document_id is None

    ok = by_code["A817"]
    assert ok.path == settings.reports_path / "2025" / "daily" / "A817_2025-11-17.pdf"
    assert ok.path.is_file() and ok.file_size_bytes == ok.path.stat().st_size
    text = re.sub(r"\s+", " ", "".join(p.extract_text() or "" for p in PdfReader(ok.path).pages))
    assert "Kirti Nagar Delhi" in text and "₹1,23,456.50" in text and "Total missed leads: 1" in text
    assert "Total net amount: ₹3,000.00" in text
    b200 = by_code["B200"]
    assert b200.path is not None and "B200" in "".join(
        p.extract_text() or "" for p in PdfReader(b200.path).pages
    )

    async with session_factory(engine)() as session:
        docs = (await session.execute(select(Document).order_by(Document.id))).scalars().all()
    assert len(docs) == 3  # ERR1 (error), A817, B200; none for NODATA
    err, a817, _ = docs
    for doc in docs:
        assert (doc.doc_type, doc.doc_subtype, doc.doc_date) == ("store_daily_pdf", "pipeline_report", T)
        assert (doc.reference_name_1, doc.reference_id_1) == ("pipeline", "dashboard_daily")
        assert (doc.reference_name_2, doc.reference_id_2) == ("run_id", "run-42")
        assert doc.reference_name_3 == "store_code"
        assert (doc.mime_type, doc.storage_backend, doc.created_by) == ("application/pdf", "fs", "pipeline")
    assert (a817.reference_id_3, a817.status, a817.file_name) == ("A817", "ok", "A817_2025-11-17.pdf")
    assert a817.file_path == str(ok.path) and a817.file_size_bytes == ok.file_size_bytes
    assert a817.error_message is None and a817.id == ok.document_id
    assert (err.reference_id_3, err.status, err.file_path, err.file_size_bytes) == (
        "ERR1",
        "error",
        None,
        None,
    )
    assert err.file_name == "ERR1_2025-11-17.pdf"
    assert err.error_message and "IsADirectoryError" in err.error_message
    assert err.id == by_code["ERR1"].document_id
    assert not any(p.name.endswith(".partial") for p in blocked.parent.iterdir())

    events = [e for e in logger.events if e["phase"] == "report"]
    assert [(e["store_code"], e["status"]) for e in events] == [
        ("ERR1", "error"),
        ("A817", "ok"),
        ("NODATA", "warning"),
        ("B200", "ok"),
    ]
    assert events[2]["message"] == NO_DATA_MESSAGE
    dumped = json.dumps(logger.events, default=str)
    assert "9876543210" not in dumped and "Ramesh" not in dumped


async def test_rerun_overwrites_the_file_and_adds_a_document(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    await seed_stores(engine, seed)
    logger = EventLogger("r", "dashboard_daily", stream=None, events=[])
    first = (await render_store_reports(engine, settings, ["A817"], T, "run-1", logger)).outcomes
    second = (await render_store_reports(engine, settings, ["A817"], T, "run-2", logger)).outcomes
    assert first[0].path == second[0].path and second[0].status == "ok"
    async with session_factory(engine)() as session:
        runs = (await session.execute(select(Document.reference_id_2).order_by(Document.id))).scalars().all()
    assert runs == ["run-1", "run-2"]
    assert sorted(p.name for p in second[0].path.parent.iterdir()) == ["A817_2025-11-17.pdf"]  # type: ignore[union-attr]


async def test_context_failure_writes_no_document(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    await seed_stores(engine, seed)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE repeat_customers"))  # a real database error while loading
    logger = EventLogger("r", "dashboard_daily", stream=None, events=[])
    outcomes = (await render_store_reports(engine, settings, ["A817", "NODATA"], T, "run-x", logger)).outcomes
    assert [(o.store_code, o.status, o.document_id) for o in outcomes] == [
        ("A817", "error", None),
        ("NODATA", "no_data", None),  # the next store is still handled
    ]
    assert outcomes[0].message.startswith("report data could not be loaded")
    async with session_factory(engine)() as session:
        assert (await session.execute(select(Document))).first() is None
    assert not daily_pdf_path(settings.reports_path, "A817", T).exists()
    assert [e["status"] for e in logger.events] == ["error", "warning"]
