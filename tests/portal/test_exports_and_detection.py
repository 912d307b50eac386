"""Simulated exports fit the export registry; download checks and login detection."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from crm_core.exports import EXPORTS, get_export, normalise_header
from crm_core.portal.detect import is_login_page, looks_like_login
from crm_core.portal.files import InvalidExport, check_csv
from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.app import _csv_body, _login_page, _notice_page
from crm_core.portal.sandbox.faults import FaultBoard, FaultSpecError, parse_fault

DAY = date(2025, 11, 19)
PORTAL, TMS = "http://127.0.0.1:8801", "http://127.0.0.1:8802"


def body(bucket: str, store: str = "A668", *faults: str) -> bytes:
    board = FaultBoard()
    for spec in faults:
        board.add(spec)
    return _csv_body(bucket, data.store_day(store, DAY), lambda name: board.take(name, store, bucket))


def records(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_data_is_deterministic_per_store_date_seed() -> None:
    assert data.store_day("A668", DAY, 0) == data.store_day("A668", DAY, 0)
    assert data.store_day("A668", DAY, 1).missed_leads != data.store_day("A668", DAY, 0).missed_leads
    assert data.store_day("A668", DAY).metrics != data.store_day("A817", DAY).metrics


@pytest.mark.parametrize("bucket", ["missed_leads", "undelivered_all", "repeat_customers", "nonpackage_all"])
def test_every_export_header_maps_to_registry_columns(bucket: str) -> None:
    spec = get_export(bucket)
    header = next(csv.reader(io.StringIO(body(bucket).decode())))
    mapping = spec.header_map()
    assert all(normalise_header(h) in mapping for h in header), header
    mapped = {mapping[normalise_header(h)] for h in header}
    assert set(spec.required_columns) <= mapped
    assert check_csv(body(bucket), spec).unknown_columns == []


def test_missed_leads_realistic_and_keyed_by_pickup_no() -> None:
    rows = records(body("missed_leads"))
    assert len({(r["store_code"], r["pickup_no"]) for r in rows}) == len(rows)  # registry key is unique
    assert len({r["mobile_number"] for r in rows}) < len(rows)  # repeated customers
    assert all(0 < int(r["id"]) < 2**31 and r["mobile_number"][0] in "6789" for r in rows)
    assert {r["is_order_placed"] for r in rows} == {"0", "1"}
    assert {r["customer_type"] for r in rows} == {"New", "Existing"}
    assert any(r["customer_name"] == "" for r in rows)


def test_dashboard_figures_agree_with_csvs() -> None:
    day = data.store_day("A817", DAY)
    leads = records(body("missed_leads", "A817"))
    pending = [r for r in records(body("undelivered_all", "A817")) if not r["actual_deliver_on"]]
    old = [r for r in pending if date.fromisoformat(r["order_date"]) < date(2025, 11, 9)]
    assert day.metrics["pickup_total_count"] == len(leads)
    assert day.metrics["pickup_new_conv_count"] == sum(
        1 for r in leads if r["customer_type"] == "New" and r["is_order_placed"] == "1"
    )
    assert day.metrics["delivery_total_undelivered"] == len(pending)
    assert day.metrics["delivery_undel_over_10_days"] == len(old)
    assert day.metrics["repeat_orders"] == len(records(body("repeat_customers", "A817")))
    assert 21 <= len(pending) <= 41


def test_order_ids_collide_across_stores_and_some_are_delivered() -> None:
    ids = [{r["order_no"] for r in records(body("undelivered_all", s))} for s in ("A668", "A817", "A526")]
    assert ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2]
    assert any(r["actual_deliver_on"] for r in records(body("undelivered_all")))


@pytest.mark.parametrize(
    ("fault", "rows"),
    [
        ("header_only", 0),
        ("bom", None),
        ("no_newline", None),
        ("duplicate_keys", "plus3"),
        ("bad_values", None),
        ("order_id", None),
        ("dates=slash", None),
        ("extra_column", None),
        ("non_utf8", None),
    ],
)
def test_valid_variants_are_accepted(fault: str, rows: object) -> None:
    spec = EXPORTS["undelivered_all"]
    expected = len(data.store_day("A668", DAY).undelivered)
    checked = check_csv(body("undelivered_all", "A668", fault), spec)
    assert checked.rows == (0 if rows == 0 else expected + 3 if rows == "plus3" else expected)
    assert checked.non_utf8 is (fault == "non_utf8")
    assert (checked.unknown_columns == ["Internal Ref"]) is (fault == "extra_column")


def test_variant_formats_are_what_they_claim() -> None:
    assert body("repeat_customers", "A668", "bom").startswith(b"\xef\xbb\xbf")
    assert not body("repeat_customers", "A668", "no_newline").endswith(b"\n")
    with pytest.raises(UnicodeDecodeError):
        body("missed_leads", "A668", "non_utf8").decode("utf-8")
    assert b"order_id" in body("undelivered_all", "A668", "order_id").split(b"\r\n")[0]
    assert b"/11/2025" in body("undelivered_all", "A668", "dates=slash")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"   \r\n ", "blank body"),
        (b",,,\n,,,\n", "only separators"),
        (b"<!DOCTYPE html><html><body>hello</body></html>", "HTML page instead of CSV"),
        (b"Store Code,Status\r\nA668,Yes\r\n", "missing required columns mobile_no"),
    ],
)
def test_invalid_bodies_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidExport, match=reason):
        check_csv(raw, EXPORTS["repeat_customers"])


def test_a_file_without_header_row_is_refused_without_quoting_the_customer_row() -> None:
    raw = b"42800000,9876501234,PK41800001,2025-11-19,Kavya Sentinel,WhatsApp\r\n"
    with pytest.raises(InvalidExport, match="missing required columns") as info:
        check_csv(raw, EXPORTS["missed_leads"])
    assert "Kavya" not in str(info.value) and "98765" not in str(info.value)
    assert "first row: 6 fields, 0 of them export headers" in str(info.value)


def test_truncated_csv_is_refused_as_transient() -> None:
    with pytest.raises(InvalidExport, match="truncated") as info:
        check_csv(body("missed_leads", "A668", "truncated"), EXPORTS["missed_leads"])
    assert info.value.transient


def test_login_detection_by_urls_and_content() -> None:
    kw = {"portal_origin": PORTAL, "tms_origin": TMS, "login_path": "/home/login"}
    assert is_login_page(f"{PORTAL}/home/login", "<p>anything</p>", **kw)
    assert is_login_page(f"{PORTAL}/home", _login_page(), **kw)  # both fields present
    assert is_login_page(f"{PORTAL}/elsewhere", "Please log in to continue", **kw)
    assert not is_login_page(f"{PORTAL}/home", "<h5>Daily Operations Tracker</h5>", **kw)
    assert not is_login_page(f"{TMS}/mis/partner_dashboard", _notice_page(), **kw)  # TMS: content checks
    assert not is_login_page(None, _login_page(), **kw)
    assert looks_like_login(_notice_page().encode())
    assert looks_like_login(_login_page("Invalid username or password"))
    assert not looks_like_login(body("missed_leads"))


def test_fault_specs() -> None:
    fault = parse_fault("status@a668/missed_leads=429#2")
    assert (fault.name, fault.store, fault.endpoint, fault.value, fault.times) == (
        "status", "A668", "missed_leads", "429", 2,
    )  # fmt: skip
    board = FaultBoard([fault])
    assert board.take("status", "A817", "missed_leads") is None
    assert board.take("status", "A668", "missed_leads") and board.take("status", "A668", "missed_leads")
    assert board.take("status", "A668", "missed_leads") is None  # used up
    with pytest.raises(FaultSpecError, match="unknown fault"):
        parse_fault("explode")
    with pytest.raises(FaultSpecError, match="NAME"):
        parse_fault("status@@")


@pytest.mark.parametrize(("column", "quoted"), [(1, False), (3, True), (5, False)])
def test_a_value_over_the_field_limit_is_named_by_row_and_column(column: int, quoted: bool) -> None:
    spec = get_export("missed_leads")
    header = list(spec.column_names)
    rows = [[f"{r}-{c}" for c in range(len(header))] for r in range(60)]
    long = "y" * (csv.field_size_limit() + 1)  # in row 50, past the sample the sniffer reads
    rows[49][column - 1] = f'"a ""quoted"", {long}"' if quoted else long
    body = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    with pytest.raises(InvalidExport) as info:
        check_csv(body.encode(), spec)
    assert info.value.reason == (
        f'row 50 (line 51), column {column} "{header[column - 1]}": a value longer than 131072 characters'
    )
