"""The demo's dashboard history behaves like the portal's: month-to-date counters only grow inside a month
and restart on the 1st, and the day's revenue is what month-to-date revenue grew by."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from crm_core.demo import demo_history_row

COUNTERS = (
    "pickup_total_count",
    "delivery_total_delivered",
    "pickup_new_count",
    "repeat_orders",
    "mtd_revenue",
)


def test_month_to_date_counters_grow_within_a_month_and_restart_on_the_first() -> None:
    mtd: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    day = date(2026, 10, 20)
    while day <= date(2026, 11, 10):
        rows.append(demo_history_row(1, day, seed=day.toordinal(), mtd=mtd))
        day += timedelta(days=1)
    for previous, row in itertools.pairwise(rows):
        for counter in COUNTERS:
            if row["dashboard_date"].day == 1:
                assert row[counter] < previous[counter], (counter, row["dashboard_date"])
            else:
                assert row[counter] > previous[counter], (counter, row["dashboard_date"])
        if row["dashboard_date"].day != 1:
            assert row["ftd_revenue"] == row["mtd_revenue"] - previous["mtd_revenue"]
        assert row["pickup_new_conv_count"] <= row["pickup_new_count"]
        assert 0 <= row["pickup_new_conv_pct"] <= 100 and 0 <= row["pickup_existing_conv_pct"] <= 100
