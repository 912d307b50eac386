"""Retention on real files and both databases: what is old and the product's goes (a dry run first changes
nothing), documents rows of deleted PDFs are marked, a produced week's summary stays, the user's own files
and links stay, and the event log rotates."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import Document, EmailSend, PipelineRunSummary
from crm_core.housekeeping import housekeeping
from crm_core.json_logger import rotate_log
from crm_core.reports.documents import write_document
from crm_core.settings import Settings

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def old_file(path: Path, days: int, body: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    stamp = (NOW - timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.lstat().st_size) for p in root.rglob("*"))


def summary(run_id: str, pipeline: str, end: date, status: str, started: datetime) -> PipelineRunSummary:
    return PipelineRunSummary(
        pipeline_name=pipeline,
        run_id=run_id,
        run_env="dev",
        started_at=started,
        finished_at=started + timedelta(minutes=3),
        total_time_taken="00:03:00",
        report_date=end,
        period_start=end - timedelta(days=6) if pipeline == "dashboard_weekly" else None,
        overall_status=status,
        summary_text="-",
    )


def send(run_id: str, created: datetime) -> EmailSend:
    return EmailSend(
        run_id=run_id,
        pipeline_code="dashboard_daily",
        profile_code="run_summary",
        store_code="",
        subject="s",
        recipients={"to": ["a@example.com"]},
        status="sent",
        created_at=created,
        updated_at=created,
    )


async def test_housekeeping_deletes_only_old_product_files_and_rows(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={
            "json_log_file": tmp_path / "home" / "logs" / "events.ndjson",
            "json_log_max_mb": 1,
            "json_log_keep": 2,
        }
    )
    reports = settings.reports_path
    old_day, young_day = date(2025, 6, 1), date(2026, 11, 20)  # 547 and 10 days before NOW
    old_pdf = old_file(reports / "2025" / "daily" / "A817_2025-06-01.pdf", 500, b"%PDF old")
    young_pdf = old_file(reports / "2026" / "daily" / "A817_2026-11-20.pdf", 10, b"%PDF young")
    gone_pdf = reports / "2025" / "daily" / "B100_2025-06-01.pdf"  # deleted by hand already
    mine = old_file(tmp_path / "my-documents" / "A817_2025-06-01.pdf", 500, b"%PDF mine")

    outbox = settings.outbox_path
    old_eml, new_eml = old_file(outbox / "a.eml", 100), old_file(outbox / "b.eml", 5)
    note = old_file(outbox / "notes.txt", 100)
    artifacts = settings.artifacts_path
    shot = old_file(artifacts / "login_ops_20250801T020000Z.png", 100)
    holiday = old_file(artifacts / "holiday.png", 100)
    downloads = settings.downloads_path
    export = old_file(downloads / "A817-missed-leads.csv", 100)
    merged = old_file(downloads / "merged_missed_leads_20250801.csv", 100)
    fresh_export = old_file(downloads / "B100-missed-leads.csv", 3)
    own_csv = old_file(downloads / "my-own.csv", 100)
    target = old_file(tmp_path / "elsewhere" / "precious.csv", 100)
    (downloads / "C200-missed-leads.csv").symlink_to(target)
    work = old_file(downloads / "ingest" / "missed_leads_run1" / "A817-missed-leads.csv", 100)

    log = settings.json_log_file
    assert log is not None
    old_file(log, 1, b"{}\n" * 400_000)  # 1.2 MB
    old_file(log.with_name("events.ndjson.1"), 1, b"gen1")
    old_file(log.with_name("events.ndjson.2"), 1, b"gen2")

    engine = make_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            common = {"doc_type": "store_daily_pdf", "pipeline_code": "dashboard_daily", "size": 8}
            ids = {
                "old": await write_document(
                    session, **common, doc_date=old_day, run_id="r-old", store_code="A817", path=old_pdf
                ),
                "again": await write_document(  # a rerun of the same day wrote the same file again
                    session, **common, doc_date=old_day, run_id="r-again", store_code="A817", path=old_pdf
                ),
                "young": await write_document(
                    session, **common, doc_date=young_day, run_id="r-y", store_code="A817", path=young_pdf
                ),
                "gone": await write_document(
                    session, **common, doc_date=old_day, run_id="r-old", store_code="B100", path=gone_pdf
                ),
                "mine": await write_document(
                    session, **common, doc_date=old_day, run_id="r-old", store_code="A817", path=mine
                ),
            }
            week_end = date(2025, 6, 8)
            session.add_all(
                [
                    summary("d-old", "dashboard_daily", old_day, "ok", NOW - timedelta(days=500)),
                    summary("d-new", "dashboard_daily", young_day, "ok", NOW - timedelta(days=10)),
                    summary("w-err", "dashboard_weekly", week_end, "error", NOW - timedelta(days=500)),
                    summary("w-ok", "dashboard_weekly", week_end, "ok", NOW - timedelta(days=499)),
                    send("d-old", NOW - timedelta(days=500)),
                    send("d-new", NOW - timedelta(days=10)),
                ]
            )

        before = tree(tmp_path)
        dry = await housekeeping(engine, settings, dry_run=True, now=NOW)
        assert tree(tmp_path) == before
        async with session_factory(engine)() as session:
            assert (await session.execute(select(Document.deleted_at))).scalars().all() == [None] * 5

        done = await housekeeping(engine, settings, now=NOW)
        counts = {s.name: s.count for s in done.sweeps}
        assert {s.name: s.count for s in dry.sweeps} == counts
        assert dry.documents_marked == done.documents_marked == 3
        assert counts == {
            "report PDFs": 1,
            "outbox emails": 1,
            "login artifacts": 1,
            "kept downloads": 3,
            "run summaries": 2,
            "email send log rows": 1,
        }
        pdfs = next(s for s in done.sweeps if s.name == "report PDFs")
        assert pdfs.notes == ["A817_2025-06-01.pdf kept: not a file inside REPORTS_DIR"]

        for path in (old_pdf, old_eml, shot, export, merged, work.parent):
            assert not path.exists(), path
        for path in (young_pdf, mine, new_eml, note, holiday, fresh_export, own_csv, target):
            assert path.exists(), path
        assert (downloads / "C200-missed-leads.csv").is_symlink()

        async with session_factory(engine)() as session:
            marked = dict((await session.execute(select(Document.id, Document.deleted_at))).all())
            runs = (await session.execute(select(PipelineRunSummary.run_id))).scalars().all()
            sends = (await session.execute(select(EmailSend.run_id))).scalars().all()
        assert {k for k, i in ids.items() if marked[i] is not None} == {"old", "again", "gone"}
        # The week's latest produced summary stays whatever its age: the catch-up reads it.
        assert sorted(runs) == ["d-new", "w-ok"]
        assert sends == ["d-new"]

        # The log rotated: the full file is generation 1, generation 1 moved up, generation 2 dropped.
        assert not log.exists() and log.with_name("events.ndjson.1").stat().st_size == 1_200_000
        assert log.with_name("events.ndjson.2").read_bytes() == b"gen1"
        assert (
            done.log
            == "event log events.ndjson rotated (over 1 MB), oldest generation events.ndjson.2 deleted"
        )

        again = await housekeeping(engine, settings, now=NOW)
        assert all(s.count == 0 for s in again.sweeps) and again.documents_marked == 0
    finally:
        await engine.dispose()


def test_rotate_log_leaves_a_small_log_alone_and_keeps_the_set_number(tmp_path: Path) -> None:
    log = tmp_path / "events.ndjson"
    log.write_text("{}\n")
    assert rotate_log(log, 1024, 3) is None and log.read_text() == "{}\n"
    for n in range(5):
        log.write_bytes(b"%d" % n * 2000)
        rotate_log(log, 1024, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.ndjson.1",
        "events.ndjson.2",
        "events.ndjson.3",
    ]
    assert log.with_name("events.ndjson.1").read_bytes().startswith(b"4")
    assert log.with_name("events.ndjson.3").read_bytes().startswith(b"2")
