"""ingest_merged (crm_core.ingest.load) against real databases (SQLite file and PostgreSQL): counts,
idempotency, duplicates, rejects, all-or-nothing transactions and dry runs."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine
from crm_core.exports import MISSED_LEADS, UNDELIVERED_ALL, ExportSpec
from crm_core.ingest import IngestError, ingest_merged
from crm_core.json_logger import EventLogger

DAY = date(2025, 11, 19)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """Where merged and rejects files go (the SQLite database lives in tmp_path itself)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def lead(n: int, store: str = "A668", **overrides: str) -> dict[str, str]:
    row = {
        "pickup_row_id": str(1000 + n),
        "mobile_number": f"98{n:08d}",
        "pickup_no": f"P{n:05d}",
        "pickup_created_date": "2025-11-18",
        "pickup_created_time": "19:09:29",
        "store_code": store,
        "store_name": f"Store {store}",
        "pickup_date": "19/11/2025",
        "pickup_time": "10:00 AM - 12:00 PM",
        "customer_name": "Asha Verma",
        "special_instruction": "",
        "source": "WhatsApp",
        "final_source": "WhatsApp",
        "customer_type": "New",
        "is_order_placed": "1" if n % 2 else "0",
    }
    row.update(overrides)
    return row


def write_merged(
    path: Path, spec: ExportSpec, rows: Sequence[dict[str, str]], file: str = "A668-missed-leads.csv"
) -> Path:
    """A merged file in the contract's format: registry columns, then source_file, source_line; all text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*spec.column_names, "source_file", "source_line"])
        for line, row in enumerate(rows, start=2):
            writer.writerow([*(row.get(c, "") for c in spec.column_names), file, str(line)])
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def table_rows(engine: AsyncEngine, table: str, order: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
        return [dict(r._mapping) for r in result]


def without_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("run_id", "updated_at")} for r in rows]


async def ingest(engine: AsyncEngine | None, path: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("spec", MISSED_LEADS)
    kwargs.setdefault("run_id", "run-1")
    kwargs.setdefault("batch_size", 3)
    spec = kwargs.pop("spec")
    return await ingest_merged(engine, spec, path, report_date=DAY, **kwargs)


async def test_insert_then_reingest_leaves_every_row_unchanged(engine: AsyncEngine, work: Path) -> None:
    path = write_merged(work / "merged_missed_leads_20251119.csv", MISSED_LEADS, [lead(n) for n in range(7)])
    first = await ingest(engine, path)
    assert (first.merged_rows, first.inserted, first.updated, first.ingested_rows) == (7, 7, 0, 7)
    assert first.rejected_rows == 0 and first.rejects_path is None and first.null_warnings == 0

    rows = await table_rows(engine, "missed_leads", "pickup_no")
    assert len(rows) == 7
    r = rows[1]
    assert r["pickup_row_id"] == 1001 and r["store_code"] == "A668" and r["pickup_no"] == "P00001"
    assert str(r["pickup_date"]) == "2025-11-19" and str(r["pickup_created_date"]) == "2025-11-18"
    assert r["is_order_placed"] in (True, 1) and rows[0]["is_order_placed"] in (False, 0)
    assert r["special_instruction"] is None  # empty text → NULL
    assert r["run_id"] == "run-1" and str(r["run_date"]) == "2025-11-19"
    assert r["created_at"] is not None and r["updated_at"] is not None

    # The same file again: every row is already stored with this content, so none is written.
    second = await ingest(engine, path, run_id="run-2")
    assert (second.inserted, second.updated, second.unchanged, second.ingested_rows) == (0, 0, 7, 7)
    again = await table_rows(engine, "missed_leads", "pickup_no")
    assert again == rows  # updated_at and run_id included: the row of the run that last changed it
    assert {r["run_id"] for r in again} == {"run-1"}


async def test_rerun_with_one_changed_row_writes_only_that_row(engine: AsyncEngine, work: Path) -> None:
    path = work / "merged_missed_leads_20251119.csv"
    await ingest(engine, write_merged(path, MISSED_LEADS, [lead(n) for n in range(6)]))
    old = "2000-01-01 00:00:00"  # a stamp no write of this test can produce, so a rewrite shows
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE missed_leads SET updated_at = '{old}'"))
    before = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}

    rows = [lead(n) for n in range(6)]
    rows[2] = lead(2, special_instruction="ring twice")  # NULL → a value is a change
    rows[4] = lead(4, customer_name=" Asha Verma ")  # trimmed by validation: the same stored value
    result = await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-2")
    assert (result.inserted, result.updated, result.unchanged, result.ingested_rows) == (0, 1, 5, 6)

    after = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}
    assert after["P00002"]["special_instruction"] == "ring twice" and after["P00002"]["run_id"] == "run-2"
    assert str(after["P00002"]["updated_at"]) != str(before["P00002"]["updated_at"])
    assert after["P00002"]["created_at"] == before["P00002"]["created_at"]
    assert {k: v for k, v in after.items() if k != "P00002"} == {
        k: v for k, v in before.items() if k != "P00002"
    }
    assert {str(r["updated_at"])[:10] for k, r in after.items() if k != "P00002"} == {"2000-01-01"}

    # And back: a value → NULL is a change too.
    back = await ingest(engine, write_merged(path, MISSED_LEADS, [lead(n) for n in range(6)]), run_id="run-3")
    assert (back.updated, back.unchanged) == (1, 5)
    final = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}
    assert final["P00002"]["special_instruction"] is None and final["P00002"]["run_id"] == "run-3"


async def test_update_changes_every_non_key_column_and_keeps_created_at(
    engine: AsyncEngine, work: Path
) -> None:
    path = work / "merged.csv"
    await ingest(engine, write_merged(path, MISSED_LEADS, [lead(1), lead(2)]))
    before = await table_rows(engine, "missed_leads", "pickup_no")
    changed = lead(1, pickup_row_id="77", customer_name="Ravi", is_order_placed="0", pickup_date="")
    result = await ingest(engine, write_merged(path, MISSED_LEADS, [changed, lead(3)]), run_id="run-2")
    assert (result.inserted, result.updated) == (1, 1)
    rows = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}
    assert len(rows) == 3
    assert rows["P00001"]["pickup_row_id"] == 77 and rows["P00001"]["customer_name"] == "Ravi"
    assert rows["P00001"]["is_order_placed"] in (False, 0) and rows["P00001"]["pickup_date"] is None
    assert rows["P00001"]["run_id"] == "run-2" and rows["P00002"]["run_id"] == "run-1"
    assert rows["P00001"]["created_at"] == before[0]["created_at"]


async def test_duplicate_keys_in_one_batch_keep_the_last_after_trimming(
    engine: AsyncEngine, work: Path
) -> None:
    rows = [
        lead(1, customer_name="first"),
        lead(2),
        lead(1, store="a668 ", pickup_no=" P00001", customer_name="last"),  # same key once trimmed
    ]
    path = write_merged(work / "merged.csv", MISSED_LEADS, rows)
    result = await ingest(engine, path, batch_size=3000)
    assert result.merged_rows == 3 and result.ingested_rows == 2 and result.inserted == 2
    assert any("repeat the key" in w for w in result.warnings)
    stored = await table_rows(engine, "missed_leads", "pickup_no")
    assert [(r["store_code"], r["pickup_no"], r["customer_name"]) for r in stored] == [
        ("A668", "P00001", "last"),
        ("A668", "P00002", "Asha Verma"),
    ]


async def test_duplicate_keys_across_batches_never_reach_the_database_twice(
    engine: AsyncEngine, work: Path
) -> None:
    rows = [lead(n % 4, customer_name=f"v{n}") for n in range(10)]  # keys repeat in every batch
    result = await ingest(engine, write_merged(work / "m.csv", MISSED_LEADS, rows), batch_size=3)
    assert (result.merged_rows, result.inserted, result.updated) == (10, 4, 0)
    stored = await table_rows(engine, "missed_leads", "pickup_no")
    assert [r["customer_name"] for r in stored] == ["v8", "v9", "v6", "v7"]


async def test_rejects_are_written_beside_the_merged_file_without_personal_values(
    engine: AsyncEngine, work: Path
) -> None:
    rows = [
        lead(1),
        lead(2, mobile_number="  "),  # required, missing
        lead(3, pickup_row_id="12a"),  # required int, not coercible
        lead(4, pickup_no=""),  # dedupe key missing
        lead(5, pickup_created_date="2025-13-45"),  # optional date → NULL + warning
        lead(6, pickup_row_id="1,234.0"),  # int with a thousands separator and .0
    ]
    path = write_merged(work / "merged_missed_leads_20251119.csv", MISSED_LEADS, rows)
    result = await ingest(engine, path)
    assert (result.rejected_rows, result.ingested_rows, result.null_warnings) == (3, 3, 1)
    assert result.rejects_path == work / "rejects_missed_leads_20251119.csv"
    with result.rejects_path.open(encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    assert [(r["file"], r["line"], r["column"]) for r in rejects] == [
        ("A668-missed-leads.csv", "3", "mobile_number"),
        ("A668-missed-leads.csv", "4", "pickup_row_id"),
        ("A668-missed-leads.csv", "5", "pickup_no"),
    ]
    assert rejects[0]["reason"] == "missing required value"
    assert rejects[1]["reason"].startswith("not a whole number")
    content = result.rejects_path.read_text(encoding="utf-8")
    assert "98" not in content.replace("A668", "") and "Asha" not in content
    stored = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}
    assert sorted(stored) == ["P00001", "P00005", "P00006"]
    assert stored["P00005"]["pickup_created_date"] is None and stored["P00006"]["pickup_row_id"] == 1234


async def test_clean_reingest_removes_a_stale_rejects_file(engine: AsyncEngine, work: Path) -> None:
    path = work / "merged_missed_leads_20251119.csv"
    first = await ingest(engine, write_merged(path, MISSED_LEADS, [lead(1), lead(2, mobile_number="")]))
    assert first.rejects_path is not None and first.rejects_path.exists()
    second = await ingest(engine, write_merged(path, MISSED_LEADS, [lead(1), lead(2)]))
    assert second.rejects_path is None and not first.rejects_path.exists()


async def test_coercions_land_typed_in_the_database(engine: AsyncEngine, work: Path) -> None:
    base = {"store_code": " a526 ", "store_name": "Tilak Nagar"}
    rows = [
        {**base, "order_id": "T1", "taxable_amount": "₹ 1,23,456.50", "net_amount": "2 500",
         "order_date": "17-11-2025", "expected_deliver_on": "11/21/2025 18:30",
         "actual_deliver_on": "2025-11-20T10:15:00+05:30"},
        {**base, "order_id": "T2", "taxable_amount": "12,345.5", "net_amount": "abc",
         "order_date": "05/11/2025 09:00:00", "expected_deliver_on": "", "actual_deliver_on": "31/02/2025"},
    ]  # fmt: skip
    path = write_merged(work / "m.csv", UNDELIVERED_ALL, rows, file="A526-undelivered-all.csv")
    result = await ingest(engine, path, spec=UNDELIVERED_ALL)
    assert result.ingested_rows == 2 and result.null_warnings == 2
    t1, t2 = await table_rows(engine, "undelivered_orders", "order_id")
    assert t1["store_code"] == "A526" and t1["taxable_amount"] == 123456.5 and t1["net_amount"] == 2500.0
    assert str(t1["order_date"]) == "2025-11-17" and str(t1["expected_deliver_on"]) == "2025-11-21"
    assert str(t1["actual_deliver_on"]) == "2025-11-20"
    assert t2["taxable_amount"] == 12345.5 and t2["net_amount"] is None
    assert str(t2["order_date"]) == "2025-11-05" and t2["actual_deliver_on"] is None


async def test_database_error_mid_bucket_stores_nothing(engine: AsyncEngine, db_url: str, work: Path) -> None:
    path = work / "merged_missed_leads_20251119.csv"
    await ingest(engine, write_merged(path, MISSED_LEADS, [lead(0)]))
    before = await table_rows(engine, "missed_leads", "pickup_no")
    # The 8th row of the next bucket fails inside the database, after earlier batches went through.
    async with engine.begin() as conn:
        if db_url.startswith("sqlite"):
            await conn.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON missed_leads WHEN NEW.pickup_no = 'P00008' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
                )
            )
        else:
            await conn.execute(
                text("ALTER TABLE missed_leads ADD CONSTRAINT boom CHECK (pickup_no <> 'P00008')")
            )
    rows = [lead(n, customer_name="changed") for n in range(10)] + [lead(11, mobile_number="")]
    with pytest.raises(IngestError) as info:
        await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-2")
    message = str(info.value)
    assert message.startswith("missed_leads: database error, bucket rolled back")
    assert "98000000" not in message and "changed" not in message
    assert await table_rows(engine, "missed_leads", "pickup_no") == before
    assert not (work / "rejects_missed_leads_20251119.csv").exists()  # no half-written rejects
    assert listing(work) == [path.name]


async def test_dropped_column_fails_the_bucket_as_ingest_error(engine: AsyncEngine, work: Path) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE missed_leads DROP COLUMN store_name"))
    path = write_merged(work / "m.csv", MISSED_LEADS, [lead(1), lead(2)])
    with pytest.raises(IngestError, match="missed_leads: database error"):
        await ingest(engine, path)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM missed_leads"))).scalar_one() == 0


async def test_dry_run_writes_nothing_and_logs_masked_samples(engine: AsyncEngine, work: Path) -> None:
    logger = EventLogger(run_id="dry", pipeline="test", stream=None, events=[])
    path = write_merged(
        work / "merged_missed_leads_20251119.csv",
        MISSED_LEADS,
        [lead(1, special_instruction="Ramesh Gupta, H.No 14; alt 98111 22233"), lead(2, mobile_number="")],
    )
    result = await ingest(engine, path, dry_run=True, logger=logger)
    assert result.dry_run and (result.inserted, result.updated, result.ingested_rows) == (0, 0, 0)
    assert result.merged_rows == 2 and result.rejected_rows == 1 and result.rejects_path is None
    assert listing(work) == [path.name]
    assert await table_rows(engine, "missed_leads", "pickup_no") == []
    logged = json.dumps(logger.events)
    assert "9800000001" not in logged and "Asha Verma" not in logged
    assert "Ramesh" not in logged and "22233" not in logged  # free text is personal too
    sample = next(e for e in logger.events if e["extras"] and "sample_rows" in e["extras"])
    row = sample["extras"]["sample_rows"][0]
    assert "*" in row["mobile_number"] and sum(c.isdigit() for c in row["mobile_number"]) <= 4
    assert row["customer_name"] == "A***"
    assert row["pickup_no"] == "P00001" and row["pickup_date"] == "2025-11-19"


async def test_dry_run_needs_no_database(work: Path) -> None:
    path = write_merged(work / "m.csv", MISSED_LEADS, [lead(1)])
    result = await ingest(None, path, dry_run=True)
    assert result.merged_rows == 1 and result.ingested_rows == 0


async def test_merged_file_without_registry_columns_is_an_ingest_error(work: Path) -> None:
    path = work / "m.csv"
    path.write_text("store_code,mobile_number\nA668,9800000001\n", encoding="utf-8")
    with pytest.raises(IngestError, match="lacks column"):
        await ingest(None, path, dry_run=True)


async def test_small_read_chunks_split_only_between_records(
    engine: AsyncEngine, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_core.ingest import load

    monkeypatch.setattr(load, "CHUNK_BYTES", 97)  # far smaller than one record: every chunk boundary is hit
    notes = ['gate "B"\nsecond floor, left', "a,b,c", "", "line one\r\nline two"]
    rows = [lead(n, special_instruction=notes[n % len(notes)]) for n in range(25)]
    rows[20]["pickup_row_id"] = "bad"
    path = write_merged(work / "merged_missed_leads_20251119.csv", MISSED_LEADS, rows)
    result = await ingest(engine, path, batch_size=4)
    assert (result.merged_rows, result.rejected_rows, result.inserted) == (25, 1, 24)
    stored = {
        r["pickup_no"]: r["special_instruction"]
        for r in await table_rows(engine, "missed_leads", "pickup_no")
    }
    assert stored["P00000"] == 'gate "B"\nsecond floor, left' and stored["P00001"] == "a,b,c"
    assert stored["P00002"] is None and stored["P00003"] == "line one\r\nline two"
    assert result.rejects_path is not None
    assert (
        result.rejects_path.read_text(encoding="utf-8")
        .splitlines()[1]
        .startswith("A668-missed-leads.csv,22,")
    )


@pytest.mark.postgres
@pytest.mark.parametrize("stored_before", [2, 0], ids=["probed", "empty-target-not-probed"])
async def test_concurrent_insert_between_probe_and_copy_falls_back_to_staging(
    pg_url: str, work: Path, monkeypatch: pytest.MonkeyPatch, stored_before: int
) -> None:
    """A second connection commits one of the chunk's "new" keys after the probe: the direct COPY hits
    the unique violation, the savepoint is rolled back and the chunk is staged, counts stay exact.
    With an empty target at the start the probe is skipped; the fallback must catch the race too."""
    from crm_core.ingest import upsert

    engine, other = make_engine(pg_url), make_engine(pg_url)
    try:
        path = work / "merged_missed_leads_20251119.csv"
        if stored_before:
            await ingest(engine, write_merged(path, MISSED_LEADS, [lead(0), lead(1)]), run_id="run-0")
        monkeypatch.setattr(upsert, "ROUTE_ROWS", 4)  # batches of 3 → chunks of 6 rows: two chunks
        probe = upsert.PostgresStager.probe
        calls: list[int] = []

        async def probe_then_race(self: upsert.PostgresStager, chunk: Any) -> Any:
            exists = await probe(self, chunk)
            calls.append(chunk.height)
            if len(calls) == 2:  # the second chunk (P00006..P00011): P00008 appears after the probe
                async with other.begin() as conn:
                    await conn.execute(
                        text(
                            "INSERT INTO missed_leads (store_code, pickup_no, pickup_row_id, mobile_number, "
                            "run_id) VALUES ('A668', 'P00008', 1, '9999999999', 'other')"
                        )
                    )
            return exists

        monkeypatch.setattr(upsert.PostgresStager, "probe", probe_then_race)
        rows = [lead(n, customer_name="ours") for n in range(12)]
        result = await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-1")
        assert calls == [6, 6]
        # P00008 was stored by the other writer and is updated by us, as are the rows stored before.
        updated = stored_before + 1
        assert (result.inserted, result.updated, result.ingested_rows) == (12 - updated, updated, 12)
        stored = await table_rows(engine, "missed_leads", "pickup_no")
        assert [r["pickup_no"] for r in stored] == [f"P{n:05d}" for n in range(12)]
        assert {(r["customer_name"], r["run_id"]) for r in stored} == {("ours", "run-1")}
        assert stored[8]["mobile_number"] == "9800000008"
    finally:
        await engine.dispose()
        await other.dispose()


@pytest.mark.postgres
async def test_error_in_the_staged_update_stores_nothing(pg_url: str, work: Path) -> None:
    engine = make_engine(pg_url)
    try:
        path = work / "merged_missed_leads_20251119.csv"
        await ingest(engine, write_merged(path, MISSED_LEADS, [lead(0), lead(1)]))
        before = await table_rows(engine, "missed_leads", "pickup_no")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "ALTER TABLE missed_leads ADD CONSTRAINT boom "
                    "CHECK (pickup_no <> 'P00001' OR customer_name <> 'changed')"
                )
            )
        rows = [lead(n, customer_name="changed") for n in range(6)]  # P00001 fails in the UPDATE
        with pytest.raises(IngestError, match="missed_leads: database error, bucket rolled back"):
            await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-2")
        assert await table_rows(engine, "missed_leads", "pickup_no") == before
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_chunk_staged_on_a_sample_still_counts_its_new_rows_as_inserted(
    pg_url: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_core.ingest import upsert

    engine = make_engine(pg_url)
    try:
        path = work / "merged_missed_leads_20251119.csv"
        stored = [0, 1, 2, 3, 5]
        await ingest(engine, write_merged(path, MISSED_LEADS, [lead(n) for n in stored]), run_id="run-0")
        # Chunks of 6 rows; the sample of the first (P00000, P00003) is all stored, so it is staged
        # whole with the new P00004 in it; the second chunk's sample is all new: probed, COPYed directly.
        monkeypatch.setattr(upsert, "ROUTE_ROWS", 4)
        monkeypatch.setattr(upsert, "PROBE_SAMPLE", 2)
        lookup = upsert.PostgresStager._stored
        looked_up: list[int] = []

        async def recorded(self: upsert.PostgresStager, chunk: Any) -> Any:
            looked_up.append(chunk.height)
            return await lookup(self, chunk)

        monkeypatch.setattr(upsert.PostgresStager, "_stored", recorded)
        rows = [lead(n, customer_name="ours") for n in range(12)]
        result = await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-1")
        assert looked_up == [2, 2, 6]  # sample, sample, then the second chunk key by key
        assert (result.inserted, result.updated) == (7, 5)
        after = await table_rows(engine, "missed_leads", "pickup_no")
        assert len(after) == 12 and {(r["customer_name"], r["run_id"]) for r in after} == {("ours", "run-1")}
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_key_another_writer_commits_while_the_staged_rows_are_applied_is_updated(
    pg_url: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P00004 is staged as new (sample-staged chunk). Another writer locks P00000 and inserts P00004,
    then commits while our UPDATE waits for that lock: the UPDATE's snapshot cannot see P00004, and the
    upsert of the rows it did not reach must still write ours (one statement, one snapshot; two
    statements would skip it as "already stored")."""
    from crm_core.ingest import upsert

    engine, other = make_engine(pg_url), make_engine(pg_url)
    try:
        path = work / "merged_missed_leads_20251119.csv"
        await ingest(
            engine, write_merged(path, MISSED_LEADS, [lead(n) for n in (0, 1, 2, 3, 5)]), run_id="run-0"
        )
        monkeypatch.setattr(upsert, "ROUTE_ROWS", 4)
        monkeypatch.setattr(upsert, "PROBE_SAMPLE", 2)  # first chunk staged whole, P00004 new in it
        apply = upsert.PostgresStager.apply_staged

        async def apply_while_another_writer_commits(self: upsert.PostgresStager) -> Any:
            async with other.connect() as conn:
                await conn.execute(text("SELECT 1 FROM missed_leads WHERE pickup_no = 'P00000' FOR UPDATE"))
                await conn.execute(
                    text(
                        "INSERT INTO missed_leads (store_code, pickup_no, pickup_row_id, mobile_number, "
                        "run_id) VALUES ('A668', 'P00004', 1, '9999999999', 'other')"
                    )
                )  # not committed yet: our statement's snapshot cannot see it
                applying = asyncio.ensure_future(apply(self))
                await asyncio.sleep(0.5)
                assert not applying.done()  # waiting for the other writer's lock
                await conn.commit()
            return await applying

        monkeypatch.setattr(upsert.PostgresStager, "apply_staged", apply_while_another_writer_commits)
        rows = [lead(n, customer_name="ours") for n in range(12)]
        result = await ingest(engine, write_merged(path, MISSED_LEADS, rows), run_id="run-1")
        assert (result.inserted, result.updated, result.ingested_rows) == (6, 6, 12)
        stored = {r["pickup_no"]: r for r in await table_rows(engine, "missed_leads", "pickup_no")}
        assert len(stored) == 12 and {(r["customer_name"], r["run_id"]) for r in stored.values()} == {
            ("ours", "run-1")
        }
        assert stored["P00004"]["mobile_number"] == "9800000004"
    finally:
        await engine.dispose()
        await other.dispose()


@pytest.mark.postgres
async def test_a_failed_copy_is_collected_even_when_the_next_read_fails_too(
    pg_url: str, work: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The COPY task fails (CHECK violation) while the next chunk is read, and that read fails too: the
    task's error must still be collected, else asyncio later logs the driver's text with the row values."""
    import gc
    import time

    import polars as pl

    from crm_core.ingest import upsert
    from crm_core.ingest.validate import Validator

    engine = make_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("ALTER TABLE missed_leads ADD CONSTRAINT boom CHECK (pickup_no <> 'P00001')")
            )
        monkeypatch.setattr(upsert, "ROUTE_ROWS", 4)
        validate = Validator.validate
        calls: list[int] = []

        def failing_on_the_fourth_batch(self: Validator, batch: pl.DataFrame, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 4:  # while the first chunk (batches 1-2) is being COPYed
                time.sleep(0.5)
                raise pl.exceptions.ComputeError("simulated read failure")
            return validate(self, batch, **kwargs)

        monkeypatch.setattr(Validator, "validate", failing_on_the_fourth_batch)
        rows = [lead(n, customer_name="Sentinel Name") for n in range(12)]
        with pytest.raises(IngestError):
            await ingest(engine, write_merged(work / "m.csv", MISSED_LEADS, rows))
        gc.collect()
        await asyncio.sleep(0.1)
        logged = " ".join(r.getMessage() + str(r.exc_info[1] if r.exc_info else "") for r in caplog.records)
        assert "never retrieved" not in logged and "Sentinel" not in logged
    finally:
        await engine.dispose()
