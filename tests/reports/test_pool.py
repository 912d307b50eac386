"""PDFs drawn in worker processes by the generic render loop: a render that raises, or one that kills its
worker, fails its own store only (an `error` document), every other store still gets its file, outcomes and
events keep the stores' order; one worker draws in the run's own process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import Document
from crm_core.json_logger import EventLogger
from crm_core.reports.documents import ReportKind, ReportsResult, render_reports, report_pdf_path
from crm_core.reports.pool import RenderPool, RenderProcessDied
from crm_core.reports.sections import undelivered_list
from crm_core.reports.styles import PagedCanvas, render_pdf
from crm_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2025, 11, 17)


@dataclass(frozen=True)
class Context:
    code: str


async def load(_session: object, code: str, _day: date) -> Context | None:
    return None if code == "N9" else Context(code)


def render(context: Context, path: Path) -> None:
    """Runs in a worker: a real one-page PDF whose text says which process drew it."""
    if context.code == "B9":
        raise ValueError("no layout for this store")
    if context.code == "D9":
        os._exit(3)  # a worker killed outright (out of memory, a crash in C): no exception, no result

    def draw(pc: PagedCanvas) -> None:
        pc.canvas.drawString(40, 700, f"store {context.code} drawn by process {os.getpid()}")
        undelivered_list(pc, [])

    render_pdf(draw, path, title=context.code, footer_text="pool test")


def kind(reports_dir: Path) -> ReportKind[date, Context]:
    return ReportKind(
        doc_type="store_daily_pdf",
        pipeline_code="dashboard_daily",
        load=load,
        render=render,
        path_for=lambda code, day: report_pdf_path(reports_dir, "daily", day, code, day.isoformat()),
    )


@pytest.fixture
async def engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    # Workers import this module to find `render`: they start with the test process's sys.path.
    monkeypatch.syspath_prepend(str(ROOT))
    eng = make_engine(sqlite_url)
    yield eng
    await eng.dispose()


async def run(engine: AsyncEngine, tmp_path: Path, codes: list[str], workers: int) -> ReportsResult:
    logger = EventLogger("run-p", "dashboard_daily", stream=None, events=[])
    result = await render_reports(
        engine, kind(tmp_path), codes, DAY, doc_date=DAY, run_id="run-p", logger=logger, workers=workers
    )
    assert [e["store_code"] for e in logger.events] == [o.store_code for o in result.outcomes]
    return result


async def documents(engine: AsyncEngine) -> list[tuple[str, str, str | None]]:
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(Document).order_by(Document.id))).scalars().all()
    return [(d.reference_id_3, d.status, d.error_message) for d in rows]  # type: ignore[misc]


def drawn_by(path: Path | None) -> int:
    from pypdf import PdfReader

    assert path is not None
    text = PdfReader(path).pages[0].extract_text() or ""
    return int(text.split("drawn by process ", 1)[1].split()[0])


async def test_a_render_that_raises_fails_its_store_only(engine: AsyncEngine, tmp_path: Path) -> None:
    codes = ["S1", "B9", "S2", "N9", "S3", "S4", "S5"]
    result = await run(engine, tmp_path, codes, workers=2)

    assert [(o.store_code, o.status) for o in result.outcomes] == [
        ("S1", "ok"),
        ("B9", "error"),
        ("S2", "ok"),
        ("N9", "no_data"),
        ("S3", "ok"),
        ("S4", "ok"),
        ("S5", "ok"),
    ]
    assert result.outcomes[1].message == "render failed: ValueError: no layout for this store"
    assert await documents(engine) == [
        ("S1", "ok", None),
        ("B9", "error", "ValueError: no layout for this store"),
        ("S2", "ok", None),
        ("S3", "ok", None),
        ("S4", "ok", None),
        ("S5", "ok", None),
    ]
    workers = {drawn_by(o.path) for o in result.rendered}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    for outcome in result.rendered:
        assert outcome.path is not None and outcome.file_size_bytes == outcome.path.stat().st_size


async def test_a_render_that_kills_its_worker_fails_its_store_only(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    codes = ["S1", "S2", "D9", "S3", "S4", "S5", "S6"]
    result = await run(engine, tmp_path, codes, workers=2)

    statuses = [(o.store_code, o.status) for o in result.outcomes]
    assert statuses == [(c, "error" if c == "D9" else "ok") for c in codes]
    died = result.outcomes[2]
    assert died.message == "render failed: RenderProcessDied: the process drawing this PDF ended abruptly"
    assert [(code, status) for code, status, _ in await documents(engine)] == statuses
    assert all(o.path is not None and o.path.is_file() for o in result.rendered)
    assert not (tmp_path / "2025" / "daily" / "DIE_2025-11-17.pdf").exists()


async def test_one_worker_draws_in_the_runs_own_process(engine: AsyncEngine, tmp_path: Path) -> None:
    result = await run(engine, tmp_path, ["S1", "B9", "S2"], workers=1)
    assert [(o.store_code, o.status) for o in result.outcomes] == [
        ("S1", "ok"),
        ("B9", "error"),
        ("S2", "ok"),
    ]
    assert {drawn_by(o.path) for o in result.rendered} == {os.getpid()}
    assert [status for _, status, _ in await documents(engine)] == ["ok", "error", "ok"]


async def test_a_pool_replaces_a_broken_pool_for_later_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    async with RenderPool(2) as pool:
        dying = await pool.submit(render, Context("D9"), tmp_path / "die.pdf")
        with pytest.raises(RenderProcessDied):
            await pool.wait(dying)
        after = [await pool.submit(render, Context(f"S{i}"), tmp_path / f"s{i}.pdf") for i in range(3)]
        sizes = [await pool.wait(job) for job in after]
    assert sizes == [(tmp_path / f"s{i}.pdf").stat().st_size for i in range(3)]


def test_report_workers_default_to_the_cores_and_one_means_in_process(tmp_path: Path) -> None:
    assert Settings(_env_file=None, crm_home=tmp_path).report_workers == (os.cpu_count() or 1)  # type: ignore[call-arg]
    assert Settings(_env_file=None, crm_home=tmp_path, report_workers=1).report_workers == 1  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="report_workers"):
        Settings(_env_file=None, crm_home=tmp_path, report_workers=0)  # type: ignore[call-arg]
    assert RenderPool(1).in_process and not RenderPool(2).in_process
