"""The simulator's load-test size: every export of a store has exactly the rows asked for, each key once,
and every row passes the ingest validation."""

from __future__ import annotations

import io
from datetime import date

import polars as pl

from crm_core.exports import MISSED_LEADS, REPEAT_CUSTOMERS, UNDELIVERED_ALL
from crm_core.ingest.validate import Validator
from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.app import _csv_body

DAY = date(2025, 11, 19)


def test_every_export_has_the_rows_asked_for_with_unique_keys_all_valid() -> None:
    day = data.store_day("B123", DAY)
    for key, spec in (
        ("missed_leads", MISSED_LEADS),
        ("undelivered_all", UNDELIVERED_ALL),
        ("repeat_customers", REPEAT_CUSTOMERS),
    ):
        frame = pl.read_csv(io.BytesIO(_csv_body(key, day, lambda _name: None, 5000)), infer_schema=False)
        assert frame.height == 5000, key
        renamed = frame.rename(
            {h: c.name for c in spec.columns for h in c.accepted_headers if h in frame.columns}
        )
        result = Validator(spec).validate(renamed, file_name=key, line_offset=0)
        assert result.rejected_rows == 0 and result.valid.height == 5000, key
        assert result.valid.select(spec.keys).n_unique() == 5000, key
    # The added rows are settled history: no more open leads or undelivered orders than the store's own.
    own_open = sum(r["is_order_placed"] == "0" for r in day.missed_leads)
    leads = pl.read_csv(
        io.BytesIO(_csv_body("missed_leads", day, lambda _name: None, 5000)), infer_schema=False
    )
    assert leads.filter(pl.col("is_order_placed") == "0").height == own_open
    own_pending = sum(not r["actual_deliver_on"] for r in day.undelivered)
    orders = pl.read_csv(
        io.BytesIO(_csv_body("undelivered_all", day, lambda _name: None, 5000)), infer_schema=False
    )
    assert orders.filter(pl.col("actual_deliver_on").is_null()).height == own_pending
    # …also as the backlog stood on the day: every added order was delivered by then.
    delivered_after = orders.filter(pl.col("actual_deliver_on").str.to_date() > DAY)
    own_after = sum(r["actual_deliver_on"] > DAY.isoformat() for r in day.undelivered)
    assert delivered_after.height == own_after == 0
    # Without a size, a store's own rows; a smaller size cuts them.
    own = len(day.missed_leads)
    assert _csv_body("missed_leads", day, lambda _name: None).count(b"\n") == own + 1
    assert _csv_body("missed_leads", day, lambda _name: None, 3).count(b"\n") == 4
