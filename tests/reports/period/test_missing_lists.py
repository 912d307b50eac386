"""Weekly PDFs tell a store with no order / lead rows stored (missing data) from one with none pending."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.models import INGEST_TABLES
from crm_core.json_logger import EventLogger
from crm_core.periods import week_of
from crm_core.pipelines import WEEKLY
from crm_core.reports.period import render_period_reports
from crm_core.reports.period.layout import NO_LEAD_DATA, NO_ORDER_DATA
from crm_core.settings import Settings

WEEK = week_of(date(2026, 10, 7))
D = timedelta(days=1)


def pdf_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(path).pages))


async def test_missing_order_and_lead_data_is_not_reported_as_none_pending(
    engine: AsyncEngine, settings: Settings, seed: SimpleNamespace
) -> None:
    async with engine.begin() as conn:
        empty = await seed.store(conn, "A817", "Dashboard Only")
        done = await seed.store(conn, "B200", "All Delivered")
        day = WEEK.start - D
        while day <= WEEK.end:
            for store in (empty, done):
                await seed.summary(conn, store, day, pickup_total_count=day.day, ftd_revenue=Decimal("10"))
            day += D
        await conn.execute(
            INGEST_TABLES["undelivered_all"].insert(),
            [
                seed.order("B200", "T1", order_date=WEEK.start, actual_deliver_on=WEEK.start + D),
                # Stored for A817, but placed after the period: A817 still had no data by the period end.
                seed.order("A817", "T9", order_date=WEEK.end + 3 * D),
            ],
        )
        await conn.execute(
            INGEST_TABLES["missed_leads"].insert(),
            [
                seed.lead(
                    "B200", "P1", pickup_date=WEEK.start, pickup_created_date=WEEK.start, is_order_placed=True
                )
            ],
        )
    logger = EventLogger("run-x", WEEKLY.code, stream=None, events=[])
    result = await render_period_reports(engine, settings, WEEKLY, WEEK, ["A817", "B200"], "run-x", logger)
    assert result.status == "ok"
    paths = {o.store_code: o.path for o in result.outcomes}
    assert paths["A817"] is not None and paths["B200"] is not None and paths["ALL"] is not None

    empty_text = pdf_text(paths["A817"])
    assert NO_ORDER_DATA in empty_text and NO_LEAD_DATA in empty_text
    assert "No undelivered orders were pending" not in empty_text
    assert "No open missed leads at the end" not in empty_text

    done_text = pdf_text(paths["B200"])
    assert "No undelivered orders were pending at the end of the period." in done_text
    assert "No open missed leads at the end of the period." in done_text
    assert NO_ORDER_DATA not in done_text and NO_LEAD_DATA not in done_text

    combined = pdf_text(paths["ALL"])
    assert "A817 N/A N/A N/A N/A" in combined
    assert "B200 0 0 ₹0.00 0" in combined
