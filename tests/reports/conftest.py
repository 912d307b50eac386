"""A realistic daily report context (figures of the sample store A817) for renderer tests."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from crm_core.dashboard import METRIC_NAMES
from crm_core.reports.actions import MissedLead, UndeliveredOrder, committed_date
from crm_core.reports.daily.data import DailyReportContext

REPORT_DATE = date(2025, 11, 17)

A817_CURRENT: dict[str, Any] = {
    "ftd_revenue": Decimal("123456.50"),
    "mtd_revenue": Decimal("1234567.00"),
    "pickup_total_conv_pct": Decimal("68.82"),
    "pickup_new_conv_pct": Decimal("65.45"),
    "pickup_existing_conv_pct": Decimal("73.68"),
    "delivery_tat_pct": Decimal("12.00"),
    "delivery_undel_over_10_days": 8,
    "delivery_total_undelivered": 21,
    "repeat_total_base_pct": Decimal("41.94"),
    "package_non_pkg_over_800": 19,
    "pickup_total_count": 93,
    "delivery_total_delivered": 79,
    "pickup_new_count": 55,
    "repeat_orders": 13,
}
A817_PREVIOUS: dict[str, Any] = {
    "pickup_total_count": 90,
    "delivery_total_delivered": 80,
    "pickup_new_count": 55,
    "repeat_orders": None,
}

NAMES = ["Ramesh", "Priya Sharma", "Anil Kumar", "Sunita", "Mohammed Irfan", "Kavya Reddy", "Deepak", "Meena"]
SLOTS = ["10:00 AM - 12:00 PM", "12:00 PM - 2:00 PM", "2:00 PM - 4:00 PM", "4:00 PM - 6:00 PM"]
SOURCES = ["Customer App", "Super Admin", "WhatsApp"]


def metrics(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values.get(name) for name in METRIC_NAMES}


def sample_orders(count: int) -> tuple[UndeliveredOrder, ...]:
    orders = []
    for i in range(count):
        ordered = REPORT_DATE - timedelta(days=(i * 7) % 18)
        expected = ordered + timedelta(days=3 + i % 2) if i % 5 else None
        committed = committed_date(ordered, expected)
        assert committed is not None
        orders.append(
            UndeliveredOrder(
                order_id=f"T{846 + i}",
                order_date=ordered,
                expected_deliver_on=expected,
                net_amount=None if i == 3 else Decimal(150 + (i * 137) % 2400) + Decimal("0.50"),
                committed_date=committed,
                age_days=(REPORT_DATE - committed).days,
            )
        )
    orders.sort(key=lambda o: -(o.age_days or 0))
    return tuple(orders)


def sample_leads(count: int) -> tuple[MissedLead, ...]:
    return tuple(
        MissedLead(
            pickup_no=f"P{1000 + i}",
            mobile_number=f"98{i:08d}",
            customer_name=NAMES[i % len(NAMES)],
            pickup_created_date=REPORT_DATE - timedelta(days=i % 9),
            pickup_created_time=f"{9 + i % 10:02d}:{i % 60:02d}:29",
            pickup_date=REPORT_DATE - timedelta(days=i % 9) + timedelta(days=1),
            pickup_time=SLOTS[i % len(SLOTS)],
            source=SOURCES[i % len(SOURCES)],
            customer_type="Existing" if i < count // 3 else "New",
        )
        for i in range(count)
    )


@pytest.fixture
def make_context() -> Callable[..., DailyReportContext]:
    def make(**overrides: Any) -> DailyReportContext:
        values: dict[str, Any] = {
            "store_code": "A817",
            "store_name": "Kirti Nagar Delhi",
            "report_date": REPORT_DATE,
            "run_id": "0b6a4f0e-5a7c-4d4e-9a51-3f3c2c1d9e77",
            "generated_at": datetime(2025, 11, 18, 2, 5, tzinfo=UTC),
            "current": metrics(A817_CURRENT),
            "previous": metrics(A817_PREVIOUS),
            "previous_date": REPORT_DATE - timedelta(days=1),
            "leads_today": 3,
            "leads_previous": 5,
            "undelivered_snapshot_count": 0,
            "undelivered_orders": sample_orders(120),
            "missed_leads": sample_leads(200),
        }
        values.update(overrides)
        return DailyReportContext(**values)

    return make


# --- database seeding ------------------------------------------------------------------------------------


async def insert_store(conn: Any, code: str, name: str | None, *, report: bool = True) -> int:
    from sqlalchemy import insert

    from crm_core.db.models import StoreMaster

    result = await conn.execute(
        insert(StoreMaster.__table__).values(  # type: ignore[arg-type]
            store_code=code, store_name=name, is_active=True, etl_flag=True, report_flag=report
        )
    )
    return int(result.inserted_primary_key[0])


async def insert_summary(conn: Any, store_id: int, day: date, **values: Any) -> None:
    from crm_core.db.models import store_dashboard_summary

    await conn.execute(
        store_dashboard_summary.insert().values(
            store_id=store_id,
            dashboard_date=day,
            run_date_time=datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC),
            run_id="seed",
            **values,
        )
    )


def lead_row(store: str, pickup_no: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "pickup_row_id": zlib.crc32(f"{store}/{pickup_no}".encode()) % 2_000_000_000,
        "mobile_number": f"9{zlib.crc32(pickup_no.encode()) % 10**9:09d}",
        "pickup_no": pickup_no,
        "pickup_created_date": None,
        "pickup_created_time": None,
        "store_code": store,
        "store_name": None,
        "pickup_date": None,
        "pickup_time": None,
        "customer_name": None,
        "special_instruction": None,
        "source": None,
        "final_source": None,
        "customer_type": None,
        "is_order_placed": False,
        "run_id": "seed",
        "run_date": None,
    }
    row.update(values)
    return row


def order_row(store: str, order_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": order_id,
        "order_date": None,
        "store_code": store,
        "store_name": None,
        "taxable_amount": None,
        "net_amount": None,
        "service_code": None,
        "mobile_no": None,
        "status": None,
        "customer_id": None,
        "expected_deliver_on": None,
        "actual_deliver_on": None,
        "run_id": "seed",
        "run_date": None,
    }
    row.update(values)
    return row


@pytest.fixture
def seed() -> SimpleNamespace:
    """Row builders and inserts for report tests (conftest helpers are not importable as a module)."""
    return SimpleNamespace(store=insert_store, summary=insert_summary, lead=lead_row, order=order_row)
