"""Everything the daily store PDF shows, read from the database (DOMAIN B7.1, B7.2, B7.5, B7.6).

The loader only reads; it works on PostgreSQL and SQLite (orderings with NULLs are done in Python so both
dialects agree). Store codes are compared upper-cased (B12.12).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.dashboard import METRIC_NAMES
from crm_core.db.models import INGEST_TABLES, StoreMaster, store_dashboard_summary
from crm_core.reports.formatting import Number, to_decimal

DEFAULT_COMMIT_DAYS = 3  # B7.5: committed date = order date + 3 days when the portal gives none

SummaryValues = Mapping[str, Decimal | int | None]


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
        """B7.6: `YYYY-MM-DD HH:MM:SS` (date and time joined; either may be missing)."""
        return _join(self.pickup_created_date, self.pickup_created_time)

    @property
    def pickup_slot(self) -> str:
        """B7.6: `YYYY-MM-DD <slot>`."""
        return _join(self.pickup_date, self.pickup_time)


def _join(day: date | None, text: str | None) -> str:
    return " ".join(p for p in (day.isoformat() if day else "", (text or "").strip()) if p)


@dataclass(frozen=True)
class SnapshotMetric:
    label: str
    previous: Number | None
    current: Number | None
    # A month-to-date counter (A6, B3.2) whose previous value is from an earlier month: it restarted,
    # so T minus T-1 says nothing about the day.
    counter_restarted: bool = False


@dataclass(frozen=True)
class DailyReportContext:
    store_code: str
    store_name: str
    report_date: date
    run_id: str
    generated_at: datetime
    current: SummaryValues
    previous: SummaryValues | None
    previous_date: date | None
    leads_today: int
    leads_previous: int
    undelivered_snapshot_count: int
    undelivered_orders: tuple[UndeliveredOrder, ...]
    missed_leads: tuple[MissedLead, ...]
    repeat_customers_count: int | None = None
    timezone: str = "Asia/Kolkata"
    logo_path: Path | None = None

    def metric(self, name: str) -> Decimal | int | None:
        return self.current.get(name)

    # B7.2 context values --------------------------------------------------------------------------------

    @property
    def kpi_values(self) -> dict[str, Number | None]:
        """Inputs of the seven primary KPIs (keys of `kpis.PRIMARY_KPIS`)."""
        return {
            "pickup_conversion_total_pct": self.metric("pickup_total_conv_pct"),
            "pickup_conversion_new_pct": self.metric("pickup_new_conv_pct"),
            "pickup_conversion_existing_pct": self.metric("pickup_existing_conv_pct"),
            "delivery_tat_pct": self.metric("delivery_tat_pct"),
            "undelivered_10_plus_count": self.metric("delivery_undel_over_10_days"),
            "undelivered_total_count": self.metric("delivery_total_undelivered"),
            "repeat_customer_pct": self.metric("repeat_total_base_pct"),
        }

    @property
    def ftd_revenue(self) -> Decimal | int | None:
        return self.metric("ftd_revenue")

    @property
    def high_value_orders_count(self) -> Decimal | int | None:
        return self.metric("package_non_pkg_over_800")

    @property
    def undelivered_total_net(self) -> Decimal:
        """B7.5: sum of net amounts of the action list, NULL counted as 0."""
        return sum((o.net_amount or Decimal(0) for o in self.undelivered_orders), Decimal(0))

    @property
    def snapshot(self) -> list[SnapshotMetric]:
        """Today's Operating Snapshot rows: (label, previous, current)."""
        prev = self.previous or {}
        repeat_now = self.metric("repeat_orders")
        if repeat_now is None:
            repeat_now = self.repeat_customers_count
        restarted = self.previous_date is not None and (
            self.previous_date.year,
            self.previous_date.month,
        ) != (
            self.report_date.year,
            self.report_date.month,
        )

        def counter(label: str, previous: Number | None, current: Number | None) -> SnapshotMetric:
            return SnapshotMetric(label, previous, current, counter_restarted=restarted)

        return [
            SnapshotMetric("Leads captured", self.leads_previous, self.leads_today),
            counter("Pickups (MTD)", prev.get("pickup_total_count"), self.metric("pickup_total_count")),
            counter(
                "Deliveries (MTD)",
                prev.get("delivery_total_delivered"),
                self.metric("delivery_total_delivered"),
            ),
            counter("New customers (MTD)", prev.get("pickup_new_count"), self.metric("pickup_new_count")),
            counter("Repeat customers (MTD)", prev.get("repeat_orders"), repeat_now),
        ]


# --- pure helpers ------------------------------------------------------------------------------------


def committed_date(order_date: date | None, expected: date | None) -> date | None:
    if expected is not None:
        return expected
    if order_date is not None:
        return order_date + timedelta(days=DEFAULT_COMMIT_DAYS)
    return None


def build_undelivered(rows: list[Mapping[str, Any]], report_date: date) -> list[UndeliveredOrder]:
    """B7.5 rows sorted by age descending, unknown age last (then order date, order id)."""
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
                age_days=(report_date - committed).days if committed is not None else None,
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
    """B7.6 order: customer type ascending ("Existing" before "New"), created date, created time."""
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


# --- loader ------------------------------------------------------------------------------------------


async def load_daily_context(
    session: AsyncSession,
    store_code: str,
    report_date: date,
    run_id: str,
    *,
    generated_at: datetime | None = None,
    timezone: str = "Asia/Kolkata",
) -> DailyReportContext | None:
    """The report context, or None when the store has no dashboard summary for `report_date` (B7.1)."""
    code = store_code.strip().upper()
    store = (
        await session.execute(
            select(StoreMaster.id, StoreMaster.store_code, StoreMaster.store_name).where(
                func.upper(StoreMaster.store_code) == code
            )
        )
    ).first()
    if store is None:
        return None

    summary = store_dashboard_summary.c
    metric_columns = [summary[name] for name in METRIC_NAMES]
    current_row = (
        await session.execute(
            select(*metric_columns)
            .where(summary.store_id == store.id, summary.dashboard_date == report_date)
            .order_by(summary.run_date_time.desc())
            .limit(1)
        )
    ).first()
    if current_row is None:
        return None
    previous_row = (
        await session.execute(
            select(summary.dashboard_date, *metric_columns)
            .where(summary.store_id == store.id, summary.dashboard_date < report_date)
            .order_by(summary.dashboard_date.desc(), summary.run_date_time.desc())
            .limit(1)
        )
    ).first()

    leads = INGEST_TABLES["missed_leads"]
    lead_rows = (
        await session.execute(
            select(leads.c.pickup_date, func.count())
            .where(
                func.upper(leads.c.store_code) == code,
                leads.c.pickup_date.in_([report_date, report_date - timedelta(days=1)]),
            )
            .group_by(leads.c.pickup_date)
        )
    ).all()
    lead_counts: dict[date, int] = {row[0]: int(row[1]) for row in lead_rows}
    open_leads = (
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
                ).where(func.upper(leads.c.store_code) == code, leads.c.is_order_placed.is_(False))
            )
        )
        .mappings()
        .all()
    )

    orders = INGEST_TABLES["undelivered_all"]
    pending = (
        (
            await session.execute(
                select(
                    orders.c.order_id, orders.c.order_date, orders.c.expected_deliver_on, orders.c.net_amount
                ).where(func.upper(orders.c.store_code) == code, orders.c.actual_deliver_on.is_(None))
            )
        )
        .mappings()
        .all()
    )
    snapshot_count = (
        await session.execute(
            select(func.count()).where(
                func.upper(orders.c.store_code) == code, orders.c.order_date == report_date
            )
        )
    ).scalar_one()

    repeat = INGEST_TABLES["repeat_customers"]
    repeat_count = (
        await session.execute(select(func.count()).where(func.upper(repeat.c.store_code) == code))
    ).scalar_one()

    current = {name: current_row._mapping[name] for name in METRIC_NAMES}
    previous = (
        {name: previous_row._mapping[name] for name in METRIC_NAMES} if previous_row is not None else None
    )
    return DailyReportContext(
        store_code=store.store_code.strip().upper(),
        store_name=(store.store_name or "").strip() or store.store_code.strip().upper(),
        report_date=report_date,
        run_id=run_id,
        generated_at=generated_at or datetime.now(UTC),
        current=current,
        previous=previous,
        previous_date=previous_row.dashboard_date if previous_row is not None else None,
        leads_today=lead_counts.get(report_date, 0),
        leads_previous=lead_counts.get(report_date - timedelta(days=1), 0),
        undelivered_snapshot_count=int(snapshot_count),
        undelivered_orders=tuple(build_undelivered([dict(r) for r in pending], report_date)),
        missed_leads=tuple(build_missed_leads([dict(r) for r in open_leads])),
        # No repeat_customers rows at all is missing data (the export may not have been ingested), not 0.
        repeat_customers_count=int(repeat_count) if repeat_count else None,
        timezone=timezone,
    )
