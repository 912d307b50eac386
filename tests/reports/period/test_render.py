"""render_period_reports on SQLite and PostgreSQL: one PDF per store plus ALL, the month-to-date
arithmetic visible in the PDF text, the no-data notice, the documents rows and the paths."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import INGEST_TABLES, Document
from crm_core.json_logger import EventLogger
from crm_core.periods import month_of, week_of
from crm_core.pipelines import DAILY, MONTHLY, WEEKLY
from crm_core.reports.period import NO_DATA_MESSAGE, NO_DATA_NOTICE, render_period_reports
from crm_core.settings import Settings

D = timedelta(days=1)
WEEK = week_of(date(2026, 10, 1))  # Monday 28 Sep – Sunday 4 Oct 2026: crosses the 1st
OCTOBER = month_of(date(2026, 10, 1))
MISSING_DAY = date(2026, 10, 2)


def pdf_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(path).pages))


async def seed_stores(engine: AsyncEngine, seed: SimpleNamespace) -> None:
    """A817: every day from 20 Sep to 31 Oct, pickups counter 4 × day of month (+ 1 from the 29th of
    September on). B200: the same days but 2 Oct, counter 3 × day of month. N0: no snapshot."""
    async with engine.begin() as conn:
        a817 = await seed.store(conn, "A817", "Kirti Nagar Delhi")
        b200 = await seed.store(conn, "B200", "Uttam Nagar Delhi")
        await seed.store(conn, "N0", "Quiet Store")
        day = date(2026, 9, 20)
        while day <= OCTOBER.end:
            bump = 1 if date(2026, 9, 29) <= day <= date(2026, 9, 30) else 0
            await seed.summary(
                conn,
                a817,
                day,
                pickup_total_count=4 * day.day + bump,
                delivery_total_delivered=3 * day.day,
                pickup_new_count=day.day,
                repeat_orders=day.day,
                ftd_revenue=Decimal("10000.50"),
                pickup_total_conv_pct=Decimal("75"),
                delivery_tat_pct=Decimal("96"),
            )
            if day != MISSING_DAY:
                await seed.summary(
                    conn,
                    b200,
                    day,
                    pickup_total_count=3 * day.day,
                    ftd_revenue=Decimal("5000"),
                    pickup_total_conv_pct=Decimal("50"),
                )
            day += D
        await conn.execute(
            INGEST_TABLES["undelivered_all"].insert(),
            [
                # Placed before the week's end and still undelivered: in the backlog.
                seed.order("A817", "T1", order_date=date(2026, 9, 20), net_amount=1500.0),
                # Placed after the week's end: not in the week's backlog.
                seed.order("A817", "T2", order_date=date(2026, 10, 20), net_amount=900.0),
            ],
        )
        await conn.execute(
            INGEST_TABLES["missed_leads"].insert(),
            [
                seed.lead(
                    "A817",
                    "P1",
                    pickup_date=date(2026, 9, 30),
                    pickup_created_date=date(2026, 9, 29),
                    customer_name="Ramesh Kumar",
                    customer_type="New",
                )
            ],
        )


async def documents(engine: AsyncEngine) -> list[Document]:
    async with session_factory(engine)() as session:
        return list((await session.execute(select(Document).order_by(Document.id))).scalars())


async def test_weekly_pdfs_documents_and_paths(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    await seed_stores(engine, seed)
    logger = EventLogger("run-w1", WEEKLY.code, stream=None, events=[])
    result = await render_period_reports(
        engine, settings, WEEKLY, WEEK, ["a817", "B200", "N0"], "run-w1", logger
    )

    assert [(o.store_code, o.status) for o in result.outcomes] == [
        ("A817", "ok"),
        ("B200", "ok"),
        ("N0", "no_data"),
        ("ALL", "ok"),
    ]
    assert result.status == "warning"
    assert result.detail == "4 PDFs; 1 without data (N0)"
    folder = settings.reports_path / "2026" / "weekly"
    assert [o.path for o in result.outcomes] == [
        folder / f"{code}_week_2026-09-28_to_2026-10-04.pdf" for code in ("A817", "B200", "N0", "ALL")
    ]

    a817 = pdf_text(folder / "A817_week_2026-09-28_to_2026-10-04.pdf")
    # Pickups: September 121 − 108 (27th) = 13, October 4 × 4 = 16: 29, not a sum of snapshots.
    assert "Pickups 29 " in a817
    assert "Kirti Nagar Delhi" in a817 and "Week: 2026-09-28 – 2026-10-04" in a817
    assert "TSV Weekly Store Performance Report • Week: 2026-09-28 – 2026-10-04" in a817
    assert "Page 1 of" in a817 and "Run ID: run-w1" in a817
    assert "7 of 7 days ingested" in a817
    assert "₹70,003.50" in a817  # 7 × ₹10,000.50
    assert "Undelivered Backlog as of 04 Oct 2026" in a817
    assert "T1" in a817 and "T2" not in a817
    assert "Total missed leads: 1" in a817
    assert "Revenue and Pickups by Day" in a817 and "Previous week" in a817

    b200 = pdf_text(folder / "B200_week_2026-09-28_to_2026-10-04.pdf")
    # 90 − 81 = 9 in September, 12 on the 4th in October; 2 Oct is missing: a lower bound.
    assert "≥ 21 (6 of 7 days)" in b200
    assert "6 of 7 days ingested" in b200 and "No figure for 02 Oct" in b200

    nodata = pdf_text(folder / "N0_week_2026-09-28_to_2026-10-04.pdf")
    assert NO_DATA_NOTICE in nodata and "0 of 7 days ingested" in nodata
    assert "Primary KPIs" not in nodata and "KPIs over the Period" not in nodata

    combined = pdf_text(folder / "ALL_week_2026-09-28_to_2026-10-04.pdf")
    assert "All stores" in combined and "Stores without data: N0." in combined
    assert "≥ 50" in combined  # 29 + at least 21
    assert "Best store" in combined

    docs = await documents(engine)
    assert [(d.reference_id_3, d.status) for d in docs] == [
        ("A817", "ok"),
        ("B200", "ok"),
        ("N0", "ok"),
        ("ALL", "ok"),
    ]
    for doc, outcome in zip(docs, result.outcomes, strict=True):
        assert doc.id == outcome.document_id
        assert (doc.doc_type, doc.doc_date) == (WEEKLY.document_type, WEEK.end)
        assert (doc.reference_id_1, doc.reference_id_2) == (WEEKLY.code, "run-w1")
        assert outcome.path is not None and doc.file_path == str(outcome.path)
        assert doc.file_size_bytes == outcome.path.stat().st_size
    events = [e for e in logger.events if e.get("store_code") == "N0"]
    assert [e["status"] for e in events] == ["warning"] and NO_DATA_MESSAGE in events[0]["message"]


async def test_monthly_pdfs(engine: AsyncEngine, settings: Settings, seed: SimpleNamespace) -> None:
    await seed_stores(engine, seed)
    logger = EventLogger("run-m1", MONTHLY.code, stream=None, events=[])
    result = await render_period_reports(
        engine, settings, MONTHLY, OCTOBER, ["A817", "B200"], "run-m1", logger
    )
    assert result.status == "ok" and result.detail == "3 PDFs"
    folder = settings.reports_path / "2026" / "monthly"
    assert [o.path for o in result.outcomes] == [
        folder / "A817_month_2026-10.pdf",
        folder / "B200_month_2026-10.pdf",
        folder / "ALL_month_2026-10.pdf",
    ]
    a817 = pdf_text(folder / "A817_month_2026-10.pdf")
    # The month's volume is the counter on the 31st: 124 (the 30 Sep figure is not subtracted).
    assert "Pickups 124 " in a817
    assert "Month: October 2026" in a817
    assert "TSV Monthly Store Performance Report • Month: October 2026" in a817
    assert "Week by Week" in a817 and "Wk 40 (01 Oct–04 Oct)" in a817
    # September has only 20–30 Sep stored: its volume is a lower bound, shown for comparison.
    assert "Previous month" in a817
    docs = await documents(engine)
    assert {(d.doc_type, d.doc_date, d.reference_id_3) for d in docs} == {
        (MONTHLY.document_type, OCTOBER.end, code) for code in ("A817", "B200", "ALL")
    }


async def test_one_failing_store_does_not_stop_the_others(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    await seed_stores(engine, seed)
    # A directory where B200's PDF must go makes its render fail for real.
    (settings.reports_path / "2026" / "weekly" / "B200_week_2026-09-28_to_2026-10-04.pdf").mkdir(parents=True)
    logger = EventLogger("run-w2", WEEKLY.code, stream=None, events=[])
    result = await render_period_reports(
        session_factory(engine), settings, WEEKLY, WEEK, ["B200", "A817"], "run-w2", logger
    )
    assert [(o.store_code, o.status) for o in result.outcomes] == [
        ("B200", "error"),
        ("A817", "ok"),
        ("ALL", "ok"),
    ]
    assert result.status == "error" and result.detail == "2 PDFs; 1 failed (B200)"
    statuses = [(d.reference_id_3, d.status) for d in await documents(engine)]
    assert statuses == [("B200", "error"), ("A817", "ok"), ("ALL", "ok")]


async def test_the_period_must_match_the_pipeline(engine: AsyncEngine, settings: Settings) -> None:
    logger = EventLogger("run-x", DAILY.code, stream=None, events=[])
    with pytest.raises(ValueError, match="reports on a month, not a week"):
        await render_period_reports(engine, settings, MONTHLY, WEEK, ["A817"], "run-x", logger)
