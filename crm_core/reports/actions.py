"""The two action lists every store report ends with: undelivered orders and open missed leads. Their rows,
their order and the queries that read them; the drawing is in `sections`.

The queries work on PostgreSQL and SQLite (orderings with NULLs are done in Python so both dialects agree);
store codes are compared upper-cased because the exports do not agree on case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.db.models import INGEST_TABLES
from crm_core.reports.formatting import to_decimal

DEFAULT_COMMIT_DAYS = 3  # committed date = order date + 3 days when the portal gives none


@dataclass(frozen=True)
class UndeliveredOrder:
    order_id: str
    order_date: date | None
    expected_deliver_on: date | None
    net_amount: Decimal | None
    committed_date: date | None
    age_days: int | None


@dataclass(frozen=True)
class MissedLead:
    pickup_no: str
    mobile_number: str
    customer_name: str | None
    pickup_created_date: date | None
    pickup_created_time: str | None
    pickup_date: date | None
    pickup_time: str | None
    source: str | None
    customer_type: str | None

    @property
    def pickup_created(self) -> str:
        """`YYYY-MM-DD HH:MM:SS` (date and time joined; either may be missing)."""
        return _join(self.pickup_created_date, self.pickup_created_time)

    @property
    def pickup_slot(self) -> str:
        """`YYYY-MM-DD <slot>`."""
        return _join(self.pickup_date, self.pickup_time)


def _join(day: date | None, text: str | None) -> str:
    return " ".join(p for p in (day.isoformat() if day else "", (text or "").strip()) if p)


def total_net(orders: Iterable[UndeliveredOrder]) -> Decimal:
    """Sum of the net amounts of an action list, a missing amount counted as 0."""
    return sum((o.net_amount or Decimal(0) for o in orders), Decimal(0))


# --- pure helpers ------------------------------------------------------------------------------------


def committed_date(order_date: date | None, expected: date | None) -> date | None:
    if expected is not None:
        return expected
    if order_date is not None:
        return order_date + timedelta(days=DEFAULT_COMMIT_DAYS)
    return None


def build_undelivered(rows: list[Mapping[str, Any]], as_of: date) -> list[UndeliveredOrder]:
    """Rows sorted by age (days since the committed date, on `as_of`) descending, unknown age last (then
    order date, order id)."""
    orders = []
    for row in rows:
        committed = committed_date(row["order_date"], row["expected_deliver_on"])
        orders.append(
            UndeliveredOrder(
                order_id=str(row["order_id"]),
                order_date=row["order_date"],
                expected_deliver_on=row["expected_deliver_on"],
                net_amount=to_decimal(row["net_amount"]),
                committed_date=committed,
                age_days=(as_of - committed).days if committed is not None else None,
            )
        )
    orders.sort(
        key=lambda o: (
            o.age_days is None,
            -(o.age_days or 0),
            o.order_date or date.max,
            o.order_id,
        )
    )
    return orders


def build_missed_leads(rows: list[Mapping[str, Any]]) -> list[MissedLead]:
    """Customer type ascending ("Existing" before "New"), then created date and time."""
    leads = [
        MissedLead(
            pickup_no=str(row["pickup_no"]),
            mobile_number=str(row["mobile_number"] or ""),
            customer_name=row["customer_name"],
            pickup_created_date=row["pickup_created_date"],
            pickup_created_time=row["pickup_created_time"],
            pickup_date=row["pickup_date"],
            pickup_time=row["pickup_time"],
            source=row["source"],
            customer_type=row["customer_type"],
        )
        for row in rows
    ]
    leads.sort(
        key=lambda lead: (
            lead.customer_type is None,
            (lead.customer_type or "").casefold(),
            lead.pickup_created_date is None,
            lead.pickup_created_date or date.min,
            lead.pickup_created_time or "",
            lead.pickup_no,
        )
    )
    return leads


# --- queries -----------------------------------------------------------------------------------------


async def load_undelivered(
    session: AsyncSession, store_code: str, as_of: date, *, until: date | None = None
) -> list[UndeliveredOrder]:
    """The store's orders without a delivery date, aged on `as_of`. With `until` (a period's end): the
    backlog as it stood that day — orders placed by then and not delivered by then."""
    orders = INGEST_TABLES["undelivered_all"]
    conditions: list[ColumnElement[bool]]
    if until is None:
        conditions = [orders.c.actual_deliver_on.is_(None)]
    else:
        conditions = [
            or_(orders.c.actual_deliver_on.is_(None), orders.c.actual_deliver_on > until),
            or_(orders.c.order_date.is_(None), orders.c.order_date <= until),
        ]
    rows = (
        (
            await session.execute(
                select(
                    orders.c.order_id, orders.c.order_date, orders.c.expected_deliver_on, orders.c.net_amount
                ).where(func.upper(orders.c.store_code) == store_code.strip().upper(), *conditions)
            )
        )
        .mappings()
        .all()
    )
    return build_undelivered([dict(r) for r in rows], as_of)


async def load_open_missed_leads(
    session: AsyncSession, store_code: str, *, until: date | None = None
) -> list[MissedLead]:
    """The store's missed leads marked as not converted into an order; with `until` (a period's end), only
    those created by then (the export keeps only a lead's current state, so "open" is as of today)."""
    leads = INGEST_TABLES["missed_leads"]
    created_by = (
        [or_(leads.c.pickup_created_date.is_(None), leads.c.pickup_created_date <= until)]
        if until is not None
        else []
    )
    rows = (
        (
            await session.execute(
                select(
                    leads.c.pickup_no,
                    leads.c.mobile_number,
                    leads.c.customer_name,
                    leads.c.pickup_created_date,
                    leads.c.pickup_created_time,
                    leads.c.pickup_date,
                    leads.c.pickup_time,
                    leads.c.source,
                    leads.c.customer_type,
                ).where(
                    func.upper(leads.c.store_code) == store_code.strip().upper(),
                    leads.c.is_order_placed.is_(False),
                    *created_by,
                )
            )
        )
        .mappings()
        .all()
    )
    return build_missed_leads([dict(r) for r in rows])


# The date column that says when a row of each list came to be, to tell "nothing stored" from "none pending".
_CREATED_ON = {"undelivered_all": "order_date", "missed_leads": "pickup_created_date"}


async def has_rows_until(session: AsyncSession, table: str, store_code: str, until: date) -> bool:
    """Whether the store has any row of `table` (`undelivered_all` or `missed_leads`) created by `until`.
    An empty list over no stored rows means the export was never ingested, not that nothing was pending."""
    rows = INGEST_TABLES[table]
    created = rows.c[_CREATED_ON[table]]
    found = (
        await session.execute(
            select(rows.c.store_code)
            .where(
                func.upper(rows.c.store_code) == store_code.strip().upper(),
                or_(created.is_(None), created <= until),
            )
            .limit(1)
        )
    ).first()
    return found is not None
