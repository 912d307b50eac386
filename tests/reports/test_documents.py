"""The generic per-store render loop on PostgreSQL and SQLite: outcomes per store, `documents` rows for what
was rendered, events of the report phase, and a result status that matches the run summary's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.db.engine import session_factory
from crm_core.db.models import Document, StoreMaster
from crm_core.json_logger import EventLogger
from crm_core.reports.documents import (
    ReportKind,
    ReportOutcome,
    ReportsResult,
    render_reports,
    report_pdf_path,
)
from crm_core.store_codes import InvalidStoreCode

WEEK_START, WEEK_END = date(2025, 11, 10), date(2025, 11, 16)


@dataclass(frozen=True)
class Week:
    start: date
    end: date


@dataclass(frozen=True)
class FakeContext:
    code: str
    stores_in_db: int


async def load(session: AsyncSession, code: str, week: Week) -> FakeContext | None:
    """A loader that really queries, so the session the loop hands out must work."""
    stores = (await session.execute(select(func.count()).select_from(StoreMaster))).scalar_one()
    if code == "BAD":
        raise RuntimeError("summary table is corrupt")
    if code == "NONE":
        return None
    return FakeContext(code, int(stores))


def render(context: FakeContext, path: Path) -> None:
    if context.code == "NOP1":
        raise OSError("disk full")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"%PDF-1.4 {context.code}".encode())


def kind(reports_dir: Path, **overrides: Any) -> ReportKind[Week, FakeContext]:
    values: dict[str, Any] = {
        "doc_type": "store_weekly_pdf",
        "pipeline_code": "dashboard_weekly",
        "load": load,
        "render": render,
        "path_for": lambda code, week: report_pdf_path(
            reports_dir, "weekly", week.end, code, f"week_{week.start}_to_{week.end}"
        ),
        "facts": lambda context: {"counts": {"stores": context.stores_in_db}},
    }
    values.update(overrides)
    return ReportKind(**values)


async def documents(engine: AsyncEngine) -> list[Document]:
    async with session_factory(engine)() as session:
        return list((await session.execute(select(Document).order_by(Document.id))).scalars().all())


async def test_one_store_failing_or_empty_never_stops_the_others(engine: AsyncEngine, tmp_path: Path) -> None:
    logger = EventLogger("run-7", "dashboard_weekly", stream=None, events=[])

    result = await render_reports(
        engine,
        kind(tmp_path),
        [" a1", "BAD", "NONE", "B2"],
        Week(WEEK_START, WEEK_END),
        doc_date=WEEK_END,
        run_id="run-7",
        logger=logger,
    )

    assert [(o.store_code, o.status) for o in result.outcomes] == [
        ("A1", "ok"),
        ("BAD", "error"),
        ("NONE", "no_data"),
        ("B2", "ok"),
    ]
    bad, none = result.outcomes[1], result.outcomes[2]
    assert bad.message == "report data could not be loaded: RuntimeError: summary table is corrupt"
    assert (bad.path, bad.document_id, none.path, none.document_id) == (None, None, None, None)
    assert none.message == "no data available for the report period"

    a1 = result.outcomes[0]
    assert a1.path == tmp_path / "2025" / "weekly" / "A1_week_2025-11-10_to_2025-11-16.pdf"
    assert a1.path.read_bytes() == b"%PDF-1.4 A1" and a1.file_size_bytes == len(b"%PDF-1.4 A1")

    docs = await documents(engine)
    assert [(d.reference_id_3, d.status) for d in docs] == [("A1", "ok"), ("B2", "ok")]
    for doc, outcome in zip(docs, (result.outcomes[0], result.outcomes[3]), strict=True):
        assert doc.id == outcome.document_id
        assert (doc.doc_type, doc.doc_subtype, doc.doc_date) == (
            "store_weekly_pdf",
            "pipeline_report",
            WEEK_END,
        )
        assert (doc.reference_id_1, doc.reference_id_2) == ("dashboard_weekly", "run-7")
        assert doc.file_path == str(outcome.path) and doc.file_size_bytes == outcome.file_size_bytes
        assert doc.file_name == f"{outcome.store_code}_week_2025-11-10_to_2025-11-16.pdf"

    events = [(e["store_code"], e["status"], e["message"]) for e in logger.events]
    assert events == [
        ("A1", "ok", "store report rendered"),
        ("BAD", "error", "report data could not be loaded"),
        ("NONE", "warning", "no data available for the report period"),
        ("B2", "ok", "store report rendered"),
    ]
    assert logger.events[0]["counts"] == {"stores": 0} and logger.events[0]["date"] == "2025-11-16"
    assert result.status == "error"
    assert result.detail == "2 PDFs; 1 failed (BAD); 1 without data (NONE)"


async def test_a_failed_render_is_recorded_as_an_error_document(engine: AsyncEngine, tmp_path: Path) -> None:
    logger = EventLogger("run-8", "dashboard_weekly", stream=None, events=[])
    result = await render_reports(
        session_factory(engine),
        kind(tmp_path),
        ["NOP1", "OK1"],
        Week(WEEK_START, WEEK_END),
        doc_date=WEEK_END,
        run_id="run-8",
        logger=logger,
    )
    failed, ok = result.outcomes
    assert (failed.status, failed.message) == ("error", "render failed: OSError: disk full")
    assert ok.status == "ok"
    docs = await documents(engine)
    assert [(d.reference_id_3, d.status, d.id) for d in docs] == [
        ("NOP1", "error", failed.document_id),
        ("OK1", "ok", ok.document_id),
    ]
    assert docs[0].file_path is None and docs[0].error_message == "OSError: disk full"
    assert docs[0].file_name == "NOP1_week_2025-11-10_to_2025-11-16.pdf"
    assert logger.events[0]["status"] == "error" and logger.events[0]["counts"] == {"stores": 0}


async def test_an_unexpected_failure_of_one_store_is_contained(engine: AsyncEngine, tmp_path: Path) -> None:
    def facts(context: FakeContext) -> dict[str, Any]:
        if context.code == "A1":
            raise KeyError("health")
        return {}

    logger = EventLogger("run-9", "dashboard_weekly", stream=None, events=[])
    result = await render_reports(
        engine,
        kind(tmp_path, facts=facts),
        ["A1", "NONE"],
        Week(WEEK_START, WEEK_END),
        doc_date=WEEK_END,
        run_id="run-9",
        logger=logger,
    )
    assert [(o.store_code, o.status) for o in result.outcomes] == [("A1", "error"), ("NONE", "no_data")]
    assert result.outcomes[0].message.startswith("store report failed: KeyError")
    assert await documents(engine) == []


@pytest.mark.parametrize(
    ("statuses", "status", "detail"),
    [
        ([], "ok", "0 PDFs"),
        (["ok"], "ok", "1 PDF"),
        (["ok", "ok"], "ok", "2 PDFs"),
        (["ok", "no_data"], "warning", "1 PDF; 1 without data (S1)"),
        (["no_data", "no_data"], "warning", "0 PDFs; 2 without data (S0, S1)"),
        (["error", "no_data", "ok"], "error", "1 PDF; 1 failed (S0); 1 without data (S1)"),
    ],
)
def test_result_status_and_detail(statuses: list[Any], status: str, detail: str) -> None:
    result = ReportsResult(tuple(ReportOutcome(f"S{i}", s) for i, s in enumerate(statuses)))
    assert (result.status, result.detail) == (status, detail)


def test_a_rendered_no_data_notice_counts_as_a_pdf(tmp_path: Path) -> None:
    # A period report draws a notice PDF for a store without data: written, but still a warning.
    result = ReportsResult(
        (
            ReportOutcome("S0", "ok", path=tmp_path / "S0.pdf"),
            ReportOutcome("S1", "no_data", path=tmp_path / "S1.pdf", document_id=7),
            ReportOutcome("S2", "no_data"),
        )
    )
    assert result.status == "warning"
    assert result.detail == "2 PDFs; 2 without data (S1, S2)"
    assert [o.store_code for o in result.rendered] == ["S0", "S1"]


def test_path_convention(tmp_path: Path) -> None:
    end = date(2026, 1, 4)
    assert report_pdf_path(tmp_path, "daily", end, " a817 ", end.isoformat()) == (
        tmp_path / "2026/daily/A817_2026-01-04.pdf"
    )
    # The year is the period end's, even for a week that starts in the previous year.
    assert report_pdf_path(tmp_path, "weekly", end, "ALL", "week_2025-12-29_to_2026-01-04") == (
        tmp_path / "2026/weekly/ALL_week_2025-12-29_to_2026-01-04.pdf"
    )
    # A code that is no store code never becomes a path (it could lead outside the reports folder).
    for bad in ("../x", "A٦٦٨", "A/1"):
        with pytest.raises(InvalidStoreCode, match="is not valid"):
            report_pdf_path(tmp_path, "monthly", date(2025, 11, 30), bad, "month_2025-11")
