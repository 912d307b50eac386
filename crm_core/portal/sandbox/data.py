"""Deterministic synthetic portal data per (store, date, seed), shaped like the vendor's.

The dashboard figures that overlap with the CSV exports are computed from the same rows: pickup counts and
conversions from the missed-leads rows, undelivered counts from the undelivered rows, repeat orders from the
repeat-customer rows. Nothing here is real personal data.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

KNOWN_STORES = {
    "A668": "UTTAM NAGAR DELHI",
    "A817": "KIRTI NAGAR DELHI",
    "A526": "TILAK NAGAR DELHI",
    "TS0": "TESTING STORE",
}
_LOCALITIES = (
    "RAJOURI GARDEN", "JANAKPURI", "DWARKA", "PITAMPURA", "ROHINI", "KAROL BAGH", "LAJPAT NAGAR",
    "MAYUR VIHAR", "VASANT KUNJ", "SAKET", "PATEL NAGAR", "PASCHIM VIHAR", "SHALIMAR BAGH", "GREATER KAILASH",
)  # fmt: skip
_FIRST_NAMES = (
    "Aarav", "Vivaan", "Aditya", "Diya", "Ananya", "Ishaan", "Kavya", "Rohan", "Meera", "Arjun", "Priya",
    "Sanjay", "Neha", "Rahul", "Pooja", "Vikram", "Sneha", "Karan", "Ritu", "Amit", "José", "Zoë",
)  # fmt: skip
SLOTS = (
    "10:00 AM - 12:00 PM",
    "12:00 PM - 2:00 PM",
    "2:00 PM - 4:00 PM",
    "4:00 PM - 6:00 PM",
    "6:00 PM - 8:00 PM",
)
SOURCES = ("Customer App", "Super Admin", "WhatsApp")

MISSED_LEADS_HEADER = (
    "id", "mobile_number", "pickup_no", "pickup_created_date", "pickup_created_time", "store_code",
    "store_name", "pickup_date", "pickup_time", "customer_name", "special_instruction", "source",
    "final_source", "customer_type", "is_order_placed",
)  # fmt: skip
UNDELIVERED_HEADER = (
    "order_no", "order_date", "store_code", "store_name", "taxable_amount", "net_amount", "service_code",
    "mobile_no", "status", "customer_id", "expected_deliver_on", "actual_deliver_on",
)  # fmt: skip
REPEAT_HEADER = ("Store Code", "Mobile No.", "Status")
NONPACKAGE_HEADER = (
    "Store Code", "Store Name", "Mobile No", "Taxable Amount", "Order Date", "Expected Delivery Date",
    "Actual Delivery Date",
)  # fmt: skip


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _store_number(store_code: str) -> int:
    return int(hashlib.sha256(store_code.encode()).hexdigest()[:6], 16)


def store_name(store_code: str) -> str:
    if store_code in KNOWN_STORES:
        return KNOWN_STORES[store_code]
    return f"{_rng('name', store_code).choice(_LOCALITIES)} DELHI"


def gstin(store_code: str) -> str:
    """Fabricated, format-valid: 07 (Delhi) + PAN-like 10 chars + entity digit + Z + check char."""
    rng = _rng("gstin", store_code)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    pan = (
        "".join(rng.choice(letters) for _ in range(5)) + f"{rng.randrange(10_000):04d}" + rng.choice(letters)
    )
    return f"07{pan}1Z{rng.choice(letters + '0123456789')}"


def launch_date(store_code: str) -> date:
    return date(2019, 1, 1) + timedelta(days=_rng("launch", store_code).randrange(5 * 365))


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice('6789')}{rng.randrange(10**9):09d}"


@dataclass(frozen=True)
class StoreDay:
    """All synthetic data of one store on one dashboard date."""

    store_code: str
    day: date
    missed_leads: list[dict[str, str]]
    undelivered: list[dict[str, str]]
    repeat_customers: list[dict[str, str]]
    nonpackage: list[dict[str, str]]
    metrics: dict[str, Decimal | int]

    @property
    def store_name(self) -> str:
        return store_name(self.store_code)


@lru_cache(maxsize=512)
def store_day(store_code: str, day: date, seed: int = 0) -> StoreDay:
    rng = _rng(seed, store_code, day.isoformat())
    name = store_name(store_code)
    month_start = day.replace(day=1)
    days_in = (day - month_start).days + 1

    # Missed leads = every pickup request this month (the dashboard's Pickup section counts them).
    customers = [(_mobile(rng), rng.choice(_FIRST_NAMES)) for _ in range(max(3, int(days_in * 4.5)))]
    n_leads = max(4, int(days_in * rng.uniform(5.0, 7.0)))
    base_id = 1_000_000 + (_store_number(store_code) % 900) * 100_000  # fits a 32-bit INTEGER
    leads = []
    for i in range(n_leads):
        mobile, cust = rng.choice(customers)  # repeated mobiles: same customer, several leads
        created = month_start + timedelta(days=rng.randrange(days_in))
        ctype = "New" if rng.random() < 0.6 else "Existing"
        placed = rng.random() < (0.62 if ctype == "New" else 0.7)
        source = rng.choice(SOURCES)
        leads.append(
            {
                "id": str(base_id + i),
                "mobile_number": mobile,
                "pickup_no": f"PK{_store_number(store_code) % 1000:03d}{i + 1:05d}",
                "pickup_created_date": created.isoformat(),
                "pickup_created_time": f"{rng.randrange(8, 21):02d}:{rng.randrange(60):02d}:{i % 60:02d}",
                "store_code": store_code,
                "store_name": name,
                "pickup_date": (created + timedelta(days=rng.randrange(3))).isoformat(),
                "pickup_time": rng.choice(SLOTS),
                "customer_name": "" if i % 17 == 5 else cust,
                "special_instruction": "Ring the bell twice" if i % 11 == 3 else "",
                "source": source,
                "final_source": source if rng.random() < 0.85 else rng.choice(SOURCES),
                "customer_type": ctype,
                "is_order_placed": "1" if placed else "0",
            }
        )

    # Undelivered ("type=a"): pending orders, a few old ones, plus some since delivered.
    n_pending = rng.randrange(21, 42)
    n_old = min(n_pending, rng.choice((7, 8)))
    n_delivered = rng.randrange(5, 12)
    orders = []
    start_no = 800 + rng.randrange(50)  # per-store running numbers collide across stores (T846 in many)
    for i in range(n_pending + n_delivered):
        if i < n_old:
            age = rng.randrange(11, 21)
        elif i < n_pending:
            age = rng.randrange(0, 10)
        else:
            age = rng.randrange(4, 21)
        ordered = day - timedelta(days=age)
        net = Decimal(rng.choice((0, rng.randrange(150, 250_000)))) / 100
        delivered = i >= n_pending
        expected = ordered + timedelta(days=rng.choice((3, 4)))
        mobile, _cust = rng.choice(customers)
        orders.append(
            {
                "order_no": f"T{start_no + i}",
                "order_date": ordered.isoformat(),
                "store_code": store_code,
                "store_name": name,
                "taxable_amount": f"{(net / Decimal('1.18')).quantize(Decimal('0.01'))}",
                "net_amount": f"{net:.2f}",
                "service_code": rng.choice(("DC", "WF", "WI", "SP")),
                "mobile_no": mobile,
                "status": "Delivered" if delivered else rng.choice(("Pending", "Ready", "In Process")),
                "customer_id": f"C{_store_number(store_code) % 1000:03d}{rng.randrange(10_000):04d}",
                "expected_deliver_on": expected.isoformat(),
                "actual_deliver_on": min(day, expected + timedelta(days=rng.randrange(3))).isoformat()
                if delivered
                else "",
            }
        )

    repeat_mobiles = sorted({m for m, _ in rng.sample(customers, min(len(customers), rng.randrange(13, 31)))})
    repeat = [{"Store Code": store_code, "Mobile No.": m, "Status": "Yes"} for m in repeat_mobiles]

    nonpackage = []
    for _ in range(rng.randrange(17, 20)):
        ordered = day - timedelta(days=rng.randrange(20))
        nonpackage.append(
            {
                "Store Code": store_code,
                "Store Name": name,
                "Mobile No": rng.choice(customers)[0],
                "Taxable Amount": f"{rng.randrange(80_000, 300_000) / 100:.2f}",
                "Order Date": f"{ordered.isoformat()} {rng.randrange(9, 20):02d}:{rng.randrange(60):02d}:00",
                "Expected Delivery Date": (ordered + timedelta(days=3)).isoformat(),
                "Actual Delivery Date": "",
            }
        )

    metrics = _metrics(rng, day, leads, orders[:n_pending], n_old, repeat, nonpackage)
    return StoreDay(store_code, day, leads, orders, repeat, nonpackage, metrics)


def _pct(part: int | Decimal, whole: int | Decimal) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01")) if whole else Decimal("0.00")


def _metrics(
    rng: random.Random,
    day: date,
    leads: list[dict[str, str]],
    pending: list[dict[str, str]],
    n_old: int,
    repeat: list[dict[str, str]],
    nonpackage: list[dict[str, str]],
) -> dict[str, Decimal | int]:
    m: dict[str, Decimal | int] = {}
    target = Decimal(rng.randrange(30, 60) * 10_000)
    mtd = Decimal(rng.randrange(8_000, 25_000) * day.day)
    lmtd = (mtd * Decimal(rng.uniform(0.8, 1.2))).quantize(Decimal(1))
    days_in_month = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    m["prev_month_revenue"] = Decimal(rng.randrange(25, 65) * 10_000 + rng.randrange(100) * 100)
    m["target_revenue"] = target
    m["lmt_d_revenue"] = lmtd
    m["mtd_revenue"] = mtd
    m["ftd_revenue"] = Decimal(rng.randrange(5_000, 25_000))
    m["tgt_vs_ach_pct"] = _pct(mtd, target)
    m["growth_pct"] = _pct(mtd - lmtd, lmtd)
    m["extrapolated_pct"] = _pct(mtd * days_in_month / day.day, target)
    for group in ("new", "existing", "total"):
        rows = [r for r in leads if group == "total" or r["customer_type"].lower() == group]
        conv = sum(1 for r in rows if r["is_order_placed"] == "1")
        m[f"pickup_{group}_count"] = len(rows)
        m[f"pickup_{group}_conv_count"] = conv
        m[f"pickup_{group}_conv_pct"] = _pct(conv, len(rows))
    total_orders = max(len(pending) + 10, int(day.day * rng.uniform(4.5, 6.5)))
    delivered = total_orders - len(pending)
    within = int(delivered * rng.uniform(0.12, 0.21))
    m["delivery_total_orders"] = total_orders
    m["delivery_within_tat_count"] = within
    m["delivery_tat_pct"] = _pct(within, delivered)
    m["delivery_total_delivered"] = delivered
    m["delivery_undel_over_10_days"] = n_old
    m["delivery_total_undelivered"] = len(pending)
    base = rng.randrange(len(repeat) * 2 + 5, len(repeat) * 4 + 10)
    m["repeat_customer_base_6m"] = base
    m["repeat_orders"] = len(repeat)
    m["repeat_total_base_pct"] = _pct(len(repeat), base)
    pkg_target = rng.randrange(20, 40)
    pkg_new = rng.randrange(5, pkg_target)
    m["package_target"] = pkg_target
    m["package_new"] = pkg_new
    m["package_ftd"] = rng.randrange(0, 4)
    m["package_achievement_pct"] = _pct(pkg_new, pkg_target)
    m["package_overall"] = rng.randrange(80, 300)
    m["package_non_pkg_over_800"] = len(nonpackage)
    m["package_non_pkg_over_800_undelivered"] = rng.randrange(0, 6)
    return m


# The column that makes a row's key unique within its store, per export shape.
_ROW_KEYS = {"id": "pickup_no", "order_no": "order_no", "Mobile No.": "Mobile No.", "Mobile No": "Mobile No"}


def sized_rows(rows: list[dict[str, str]], count: int, store_code: str) -> list[dict[str, str]]:
    """Exactly `count` rows for load tests: the store's own rows, then copies of them in turn, each with
    a key of its own (a suffixed pickup or order number, another mobile) and, for missed leads, the next
    id. The copies are settled history — leads converted into orders, orders delivered — so a store's
    report keeps the action lists of its own rows, whatever the size. Deterministic; the dashboard
    figures still describe the store's own rows."""
    if count <= len(rows) or not rows:
        return rows[:count]
    key = next(k for k in _ROW_KEYS if k in rows[0])
    column = _ROW_KEYS[key]
    first_id = int(rows[0]["id"]) if key == "id" else 0
    offset = _store_number(store_code)
    out = list(rows)
    for i in range(len(rows), count):
        row = dict(rows[i % len(rows)])
        if column.startswith("Mobile"):
            row[column] = f"{6 + i % 4}{(offset + i) % 10**9:09d}"
        else:
            row[column] = f"{row[column]}-{i}"
        if key == "id":
            row["id"] = str(first_id + i)
            row["is_order_placed"] = "1"
        elif key == "order_no":
            row["status"] = "Delivered"
            # Delivered on the day it was ordered: never after the store's day, so the report's backlog
            # "as it stood on the report date" is the store's own (an expected date may lie ahead of it).
            row["actual_deliver_on"] = row["actual_deliver_on"] or row["order_date"]
        out.append(row)
    return out
