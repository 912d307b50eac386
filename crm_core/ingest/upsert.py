"""Set-based upserts of validated batches into an ingest table, inside the caller's transaction.

Both dialects stage rows in a temporary table and upsert from it with
`INSERT … SELECT … ON CONFLICT (keys) DO UPDATE SET <every non-key column>, run_id, run_date, updated_at`.
- PostgreSQL: the batches are streamed by one asyncpg binary COPY (raw driver connection) into a TEMP table
  dropped at commit; one INSERT … SELECT at the end counts inserted vs updated rows with `xmax = 0`.
- SQLite: every batch is inserted into a TEMP table, the rows whose key already exists are counted (those
  will be updates), then upserted; the staging table is emptied for the next batch.
The caller guarantees that no key occurs twice in one bucket (PostgreSQL refuses to update a row twice
in one statement).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Protocol

import polars as pl
from sqlalchemy import Column, Date, MetaData, String, Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_core.db.models import INGEST_TABLES
from crm_core.exports import ExportSpec


class Stager(Protocol):
    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> tuple[int, int]:
        """Upsert every batch; (inserted, updated) for the whole bucket."""
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

    def upsert_sql(self, where: str = "") -> str:
        q = self.q
        cols = ", ".join(q(c) for c in self.columns)
        keys = ", ".join(q(k) for k in self.spec.keys)
        updates = ", ".join(
            [f"{q(c)} = excluded.{q(c)}" for c in self.spec.non_key_columns]
            + ["run_id = excluded.run_id", "run_date = excluded.run_date", "updated_at = CURRENT_TIMESTAMP"]
        )
        return (
            f"INSERT INTO {q(self.spec.table)} ({cols}, run_id, run_date) "
            f"SELECT {cols}, :run_id, :run_date FROM {q(self.staging)} {where}"
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
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
    """COPY into a TEMP table (dropped at commit), then one INSERT … SELECT … ON CONFLICT."""

    async def open(self) -> PostgresStager:
        # Executed through SQLAlchemy first, so the transaction is open before the raw driver COPYs.
        await self.conn.execute(text(self.staging_ddl(" ON COMMIT DROP")))
        raw = await self.conn.get_raw_connection()
        self.driver: Any = raw.driver_connection
        return self

    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> tuple[int, int]:
        async def records() -> AsyncIterator[tuple[Any, ...]]:
            async for batch in batches:
                for record in batch.iter_rows():
                    yield record

        # One COPY streams every batch: a COPY per batch would pay its start-up (and asyncpg's column
        # type lookup) hundreds of times per bucket, ~30% of the COPY time.
        await self.driver.copy_records_to_table(self.staging, records=records(), columns=self.columns)
        sql = (
            f"WITH up AS ({self.upsert_sql()} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
        )
        row = (await self.conn.execute(self.bound(sql), self.params)).one()
        return int(row[0]), int(row[1])


class SqliteStager(_Upsert):
    """Per batch: insert into a TEMP table, count the keys already stored, upsert, empty the TEMP table."""

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
            f"SELECT count(*) FROM {q(self.staging)} s JOIN {q(self.spec.table)} t ON {on}"
        )
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        self.upsert = self.bound(self.upsert_sql("WHERE true "))
        return self

    async def load(self, batches: AsyncIterator[pl.DataFrame]) -> tuple[int, int]:
        inserted = updated = 0
        async for batch in batches:
            if not batch.height:
                continue
            await self.conn.execute(self.stage_table.insert(), batch.to_dicts())
            existing = int((await self.conn.execute(self.count_existing)).scalar_one())
            await self.conn.execute(self.upsert, self.params)
            await self.conn.execute(self.stage_table.delete())
            updated += existing
            inserted += batch.height - existing
        await self.conn.execute(text(f"DROP TABLE temp.{_quote(self.conn, self.staging)}"))
        return inserted, updated


async def open_stager(conn: AsyncConnection, spec: ExportSpec, run_id: str, run_date: date) -> Stager:
    if conn.dialect.name == "postgresql":
        return await PostgresStager(conn, spec, run_id, run_date).open()
    if conn.dialect.name == "sqlite":
        return await SqliteStager(conn, spec, run_id, run_date).open()
    raise NotImplementedError(f"ingest supports PostgreSQL and SQLite, not {conn.dialect.name}")
