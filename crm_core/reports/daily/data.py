"""Everything the daily store PDF shows, read from the database.

The loader only reads; it works on PostgreSQL and SQLite. Store codes are compared upper-cased because the
exports do not agree on case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.dashboard import METRIC_NAMES
from crm_core.db.models import INGEST_TABLES, store_dashboard_summary
from crm_core.db.stores import find_store
from crm_core.reports.actions import (
    MissedLead,
    UndeliveredOrder,
    load_open_missed_leads,
    load_undelivered,
    total_net,
)
from crm_core.reports.formatting import Number
from crm_core.reports.kpis import SnapshotMetric, kpi_values_from_dashboard

SummaryValues = Mapping[str, Decimal | int | None]


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

    @property
    def kpi_values(self) -> dict[str, Number | None]:
        """Inputs of the seven primary KPIs (keys of `kpis.PRIMARY_KPIS`)."""
        return kpi_values_from_dashboard(self.current)

    @property
    def ftd_revenue(self) -> Decimal | int | None:
        return self.metric("ftd_revenue")

    @property
    def high_value_orders_count(self) -> Decimal | int | None:
        return self.metric("package_non_pkg_over_800")

    @property
    def undelivered_total_net(self) -> Decimal:
        """Sum of the net amounts of the undelivered orders, a missing amount counted as 0."""
        return total_net(self.undelivered_orders)

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


async def load_daily_context(
    session: AsyncSession,
    store_code: str,
    report_date: date,
    run_id: str,
    *,
    generated_at: datetime | None = None,
    timezone: str = "Asia/Kolkata",
) -> DailyReportContext | None:
    """The report context, or None when the store has no dashboard summary for `report_date`."""
    code = store_code.strip().upper()
    store = await find_store(session, code)
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
    orders = INGEST_TABLES["undelivered_all"]
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
        # As things stood on the report date, so a back-dated report shows nothing created after it.
        undelivered_orders=tuple(await load_undelivered(session, code, report_date, until=report_date)),
        missed_leads=tuple(await load_open_missed_leads(session, code, until=report_date)),
        # No repeat_customers rows at all is missing data (the export may not have been ingested), not 0.
        repeat_customers_count=int(repeat_count) if repeat_count else None,
        timezone=timezone,
    )
