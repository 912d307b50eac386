"""Set-based upserts of validated batches into an ingest table, inside the caller's transaction.

A stored row is rewritten only when one of its non-key columns differs from the incoming row (a NULL-safe
comparison generated from the export registry); then every non-key column, run_id, run_date and updated_at
are set. A row whose content did not change is left alone (its run_id, run_date and updated_at stay those
of the run that last changed it) and counted as unchanged, so a rerun of the same day writes no row.
Inserted, updated and unchanged rows are counted separately and add up to the rows loaded.
- PostgreSQL ("probe and route"): per chunk of ~ROUTE_ROWS rows, one indexed join finds the keys already
  stored; the new rows are binary-COPYed (asyncpg, raw driver connection) straight into the target inside
  a savepoint (inserted), the others into a TEMP table dropped at commit. If a concurrent writer stored
  one of the "new" keys after the probe, the COPY fails with a unique violation, the savepoint is rolled
  back and that chunk is staged instead. At the end ONE statement applies the staged rows: one join
  classifies each (stored? content changed?), an `UPDATE … FROM` writes the changed stored ones (updates)
  and an `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <content differs>` the ones not stored (counted
  with `xmax = 0`); the rest are unchanged.
- SQLite: every batch is inserted into a TEMP table, the rows whose key already exists are counted, and
  of those the ones whose content differs (those will be updates), then upserted with
  `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <content differs>`; the staging table is emptied for the
  next batch.
The caller guarantees that no key occurs twice in one bucket (PostgreSQL refuses to update a row twice
in one statement).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import numpy as np
import polars as pl
from sqlalchemy import Column, Date, MetaData, String, Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_core.db.models import INGEST_TABLES
from crm_core.exports import ExportSpec

ROUTE_ROWS = 30_000  # rows per probe/route chunk on PostgreSQL
PROBE_SAMPLE = 200  # keys looked up first to decide whether a chunk is probed key by key
STAGE_ALL_SHARE = 0.5  # sampled share of stored keys above which the whole chunk is staged unprobed
UNIQUE_VIOLATION = "23505"


@dataclass(frozen=True)
class UpsertCounts:
    """What the upsert did with the rows it was given: new keys, stored keys whose content changed, and
    stored keys whose content was already the same (not written)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


class Stager(Protocol):
    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> UpsertCounts:
        """Upsert every batch; the counts for the whole bucket."""
        ...


def _quote(conn: AsyncConnection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


class _Upsert:
    def __init__(self, conn: AsyncConnection, spec: ExportSpec, run_id: str, run_date: date) -> None:
        self.conn = conn
        self.spec = spec
        self.table = INGEST_TABLES[spec.bucket]
        self.columns = list(spec.column_names)
        self.staging = f"_stage_{spec.table}"
        self.params = {"run_id": run_id, "run_date": run_date}

    def q(self, name: str) -> str:
        return _quote(self.conn, name)

    def changed(self, stored: str, incoming: str) -> str:
        """SQL true when the row `stored` (an alias of the target table) differs from `incoming` in any
        non-key column, NULL-safely: a NULL replaced by a value, or the reverse, is a change."""
        left = ", ".join(f"{stored}.{self.q(c)}" for c in self.spec.non_key_columns)
        right = ", ".join(f"{incoming}.{self.q(c)}" for c in self.spec.non_key_columns)
        distinct = "IS DISTINCT FROM" if self.conn.dialect.name == "postgresql" else "IS NOT"
        return f"({left}) {distinct} ({right})"

    def upsert_sql(self, source: str, where: str) -> str:
        """INSERT the rows of `source` (a table or CTE name, unquoted) that pass `where`; a stored key is
        updated only when its content changed."""
        q = self.q
        table = q(self.spec.table)
        cols = ", ".join(q(c) for c in self.columns)
        keys = ", ".join(q(k) for k in self.spec.keys)
        updates = ", ".join(
            [f"{q(c)} = excluded.{q(c)}" for c in self.spec.non_key_columns]
            + ["run_id = excluded.run_id", "run_date = excluded.run_date", "updated_at = CURRENT_TIMESTAMP"]
        )
        return (
            f"INSERT INTO {table} ({cols}, run_id, run_date) "
            f"SELECT {cols}, :run_id, :run_date FROM {source} {where}"
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {self.changed(table, 'excluded')}"
        )

    def bound(self, sql: str) -> Any:
        return text(sql).bindparams(
            bindparam("run_id", type_=String(64)), bindparam("run_date", type_=Date())
        )

    def staging_ddl(self, suffix: str = "") -> str:
        q = self.q
        columns = ", ".join(
            f"{q(c)} {self.table.c[c].type.compile(dialect=self.conn.dialect)}" for c in self.columns
        )
        return f"CREATE TEMPORARY TABLE {q(self.staging)} ({columns}){suffix}"


class PostgresStager(_Upsert):
    """Probe and route, per chunk of about ROUTE_ROWS rows: keys not yet stored are COPYed straight into
    the target (inserted); the rest are COPYed into a TEMP table (dropped at commit) and applied at the
    end by one set-based UPDATE (plus an INSERT … ON CONFLICT for any staged row that turned out new)."""

    async def open(self) -> PostgresStager:
        # Executed through SQLAlchemy first, so the transaction is open before the raw driver COPYs.
        await self.conn.execute(text(self.staging_ddl(" ON COMMIT DROP")))
        raw = await self.conn.get_raw_connection()
        self.driver: Any = raw.driver_connection
        q = self.q
        keys = self.spec.keys
        arrays = ", ".join(
            f"${n}::{self.table.c[k].type.compile(dialect=self.conn.dialect)}[]"
            for n, k in enumerate(keys, start=1)
        )
        on = " AND ".join(f"t.{q(k)} = k.{q(k)}" for k in keys)
        names = ", ".join(q(k) for k in keys)
        self.probe_sql = (
            f"SELECT k._ord FROM unnest({arrays}) WITH ORDINALITY AS k({names}, _ord) "
            f"JOIN {q(self.spec.table)} t ON {on}"
        )
        self.staged = 0
        self.inserted = 0
        # An empty target needs no probe (one index lookup per key, ~5 µs each here, a third of a cold
        # load): every key is new unless a concurrent writer stores it meanwhile, and then the savepoint
        # fallback catches it and probing is switched on for the rest of the bucket.
        stored = text(f"SELECT EXISTS (SELECT 1 FROM {q(self.spec.table)})")
        self.probing = bool((await self.conn.execute(stored)).scalar_one())
        return self

    async def probe(self, chunk: pl.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which rows of `chunk` to stage (True) rather than COPY straight into the target: those whose
        key is already stored. A sample of the keys is looked up first; when most of them are stored the
        whole chunk is staged without the full probe (one index lookup per key, ~5 µs each here): the
        staged rows that turn out new are inserted by `apply_staged`, still counted exactly."""
        if not self.probing:
            return np.zeros(chunk.height, dtype=np.bool_)
        if chunk.height > PROBE_SAMPLE:
            sample = chunk.gather_every(chunk.height // PROBE_SAMPLE)
            if (await self._stored(sample)).mean() >= STAGE_ALL_SHARE:
                return np.ones(chunk.height, dtype=np.bool_)
        return await self._stored(chunk)

    async def _stored(self, chunk: pl.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        ords = await self.driver.fetch(self.probe_sql, *(chunk[k].to_list() for k in self.spec.keys))
        exists = np.zeros(chunk.height, dtype=np.bool_)
        if ords:
            exists[np.fromiter((r[0] for r in ords), dtype=np.int64, count=len(ords)) - 1] = True
        return exists

    async def route(self, chunk: pl.DataFrame, exists: np.ndarray[Any, np.dtype[np.bool_]]) -> None:
        """New keys straight into the target, inside a savepoint: a concurrent writer may have stored one
        of them since the probe, and then the whole chunk goes through staging instead."""
        fresh = chunk.filter(pl.Series(~exists)) if exists.any() else chunk
        stage = chunk.filter(pl.Series(exists)) if exists.any() else chunk.clear()
        if fresh.height:
            stamped = fresh.with_columns(
                pl.lit(self.params["run_id"], pl.String).alias("run_id"),
                pl.lit(self.params["run_date"], pl.Date).alias("run_date"),
            )  # created_at/updated_at: their CURRENT_TIMESTAMP defaults (the transaction's start)
            await self.driver.execute("SAVEPOINT ingest_direct")
            try:
                await self.copy(self.spec.table, stamped)
            except Exception as exc:
                if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                    raise
                await self.driver.execute("ROLLBACK TO SAVEPOINT ingest_direct")
                stage = chunk
                self.probing = True
            else:
                self.inserted += fresh.height
            await self.driver.execute("RELEASE SAVEPOINT ingest_direct")
        if stage.height:
            await self.copy(self.staging, stage.select(self.columns))
            self.staged += stage.height

    async def copy(self, table: str, frame: pl.DataFrame) -> None:
        # Binary records, not CSV written by polars: on this 2-core machine the server's CSV parsing
        # cost more than the client's per-row encoding saved (benchmarks/ingest.py measures both).
        await self.driver.copy_records_to_table(table, records=frame.iter_rows(), columns=frame.columns)

    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> UpsertCounts:
        # Chunks of several batches: a probe and a COPY per 3000-row batch would pay their start-up
        # (and asyncpg's column type lookup) hundreds of times per bucket. The previous chunk is sent
        # by a task while the next one is read and validated (in prefetched()'s worker thread).
        sending: asyncio.Task[None] | None = None
        try:
            async for chunk in _chunks(batches, ROUTE_ROWS):
                if sending is not None:
                    await sending
                exists = await self.probe(chunk)
                sending = asyncio.ensure_future(self.route(chunk, exists))
            if sending is not None:
                await sending
                sending = None
        finally:
            if sending is not None:
                # Let a COPY in flight finish rather than cancel it mid-protocol (the connection must stay
                # usable for the rollback), and always collect its outcome: an uncollected task error is
                # printed by asyncio with the driver's full text, failing row values included.
                with contextlib.suppress(BaseException):
                    await sending
        staged = UpsertCounts()
        if self.staged:
            staged = await self.apply_staged()
        return UpsertCounts(inserted=self.inserted) + staged

    async def apply_staged(self) -> UpsertCounts:
        """The staged rows applied in ONE statement: an UPDATE … FROM of the stored rows whose content
        differs, and an upsert of the staged keys not stored in the statement's snapshot (new keys of a
        sample-staged or fallback chunk). One statement, one snapshot: a key another writer commits
        meanwhile is either seen by the UPDATE (or found unchanged) or met by the INSERT's ON CONFLICT,
        never missed by both. Staged rows that neither wrote are unchanged."""
        row = (await self.conn.execute(self.bound(self.apply_sql()), self.params)).one()
        inserted, updated = int(row[1]), int(row[0]) + int(row[2])
        return UpsertCounts(inserted, updated, self.staged - inserted - updated)

    def apply_sql(self) -> str:
        # One hash join classifies every staged row (stored? content changed?) into `m`; the UPDATE
        # and the INSERT then read `m`, so the staged rows are joined with the table once, not twice
        # (a second join, an anti-join for the new keys, doubled the cost of an unchanged rerun).
        q = self.q
        table, staging = q(self.spec.table), q(self.staging)
        first_key = q(self.spec.keys[0])  # key columns are NOT NULL: NULL here means "no stored row"
        on = " AND ".join(f"t.{q(k)} = m.{q(k)}" for k in self.spec.keys)
        sets = ", ".join(
            [f"{q(c)} = m.{q(c)}" for c in self.spec.non_key_columns]
            + ["run_id = :run_id", "run_date = :run_date", "updated_at = CURRENT_TIMESTAMP"]
        )
        classified = (
            f"SELECT s.*, t.{first_key} IS NOT NULL AS _stored, "
            f"t.{first_key} IS NOT NULL AND {self.changed('t', 's')} AS _changed "
            f"FROM {staging} s LEFT JOIN {table} t ON "
            + " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in self.spec.keys)
        )
        return (
            f"WITH m AS MATERIALIZED ({classified}), "
            # The content test again: a row another writer changed since the snapshot is re-checked.
            f"u AS (UPDATE {table} t SET {sets} FROM m "
            f"WHERE m._changed AND {on} AND {self.changed('t', 'm')} RETURNING 1), "
            f"i AS ({self.upsert_sql('m', 'WHERE NOT m._stored ')} RETURNING (xmax = 0) AS inserted) "
            "SELECT (SELECT count(*) FROM u), count(*) FILTER (WHERE inserted), "
            "count(*) FILTER (WHERE NOT inserted) FROM i"
        )


async def _chunks(batches: AsyncIterator[pl.DataFrame], rows: int) -> AsyncIterator[pl.DataFrame]:
    pending: list[pl.DataFrame] = []
    size = 0
    async for batch in batches:
        if not batch.height:
            continue
        pending.append(batch)
        size += batch.height
        if size >= rows:
            yield pl.concat(pending, rechunk=False)
            pending, size = [], 0
    if pending:
        yield pl.concat(pending, rechunk=False)


class SqliteStager(_Upsert):
    """Per batch: insert into a TEMP table, count the keys already stored (and which of them changed),
    upsert, empty the TEMP table."""

    async def open(self) -> SqliteStager:
        await self.conn.execute(text(f"DROP TABLE IF EXISTS temp.{_quote(self.conn, self.staging)}"))
        await self.conn.execute(text(self.staging_ddl()))
        # A Core table object so SQLAlchemy's type processing (dates, booleans) applies to the inserts.
        self.stage_table = Table(
            self.staging,
            MetaData(),
            *(Column(c, self.table.c[c].type) for c in self.columns),
            prefixes=["TEMPORARY"],
        )
        q = self.q
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in self.spec.keys)
        self.count_existing = text(
            f"SELECT count(*), coalesce(sum({self.changed('t', 's')}), 0) "
            f"FROM {q(self.staging)} s JOIN {q(self.spec.table)} t ON {on}"
        )
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        self.upsert = self.bound(self.upsert_sql(q(self.staging), "WHERE true "))
        return self

    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> UpsertCounts:
        counts = UpsertCounts()
        async for batch in batches:
            if not batch.height:
                continue
            await self.conn.execute(self.stage_table.insert(), batch.to_dicts())
            existing, changed = (await self.conn.execute(self.count_existing)).one()
            await self.conn.execute(self.upsert, self.params)
            await self.conn.execute(self.stage_table.delete())
            counts += UpsertCounts(batch.height - existing, int(changed), int(existing) - int(changed))
        await self.conn.execute(text(f"DROP TABLE temp.{_quote(self.conn, self.staging)}"))
        return counts


async def open_stager(conn: AsyncConnection, spec: ExportSpec, run_id: str, run_date: date) -> Stager:
    if conn.dialect.name == "postgresql":
        return await PostgresStager(conn, spec, run_id, run_date).open()
    if conn.dialect.name == "sqlite":
        return await SqliteStager(conn, spec, run_id, run_date).open()
    raise NotImplementedError(f"ingest supports PostgreSQL and SQLite, not {conn.dialect.name}")
