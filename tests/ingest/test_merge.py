"""crm_core.ingest.merge: record-level merge of per-store CSV files (the contract is in docs/ingest.md).

Input files are written as bytes so BOM, CRLF, encoding and final newlines are exactly what each test says;
the merged file is read back with the stdlib csv module and compared value by value.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crm_core.errors import is_transient
from crm_core.exports import MISSED_LEADS, REPEAT_CUSTOMERS, UNDELIVERED_ALL
from crm_core.ingest.merge import (
    MergeError,
    MergeResult,
    _diagnose,
    _locate_records,
    _lone_cr_to_lf,
    _show_header,
    deduplicate,
    merge_bucket,
)
from crm_core.json_logger import EventLogger

WriteFile = Callable[[str, bytes], Path]
DAY = date(2025, 11, 17)

# The vendor's missed-leads header, in the vendor's order.
MISSED_HEADER = (
    "id,mobile_number,pickup_no,pickup_created_date,pickup_created_time,store_code,store_name,pickup_date,"
    "pickup_time,customer_name,special_instruction,source,final_source,customer_type,is_order_placed"
)
MISSED_COLUMNS = [*MISSED_LEADS.column_names, "source_file", "source_line"]


def lead(row_id: str, mobile: str, pickup_no: str, store: str, name: str = "Asha", note: str = "") -> str:
    """One missed-leads CSV line (no line break) in vendor column order."""
    return ",".join(
        [
            row_id,
            mobile,
            pickup_no,
            "2025-11-17",
            "19:09:29",
            store,
            f"Store {store}",
            "2025-11-18",
            "10:00 AM - 12:00 PM",
            name,
            note,
            "Customer App",
            "WhatsApp",
            "New",
            "0",
        ]
    )


def csv_bytes(*lines: str, eol: str = "\n", final_newline: bool = True) -> bytes:
    text = eol.join(lines) + (eol if final_newline else "")
    return text.encode("utf-8")


def read_merged(path: Path | None) -> tuple[list[str], list[dict[str, str]]]:
    """The merged file through the stdlib csv module (independent of the polars writer)."""
    assert path is not None and path.exists()
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def pick(rows: list[dict[str, str]], *columns: str) -> list[tuple[str, ...]]:
    return [tuple(row[c] for c in columns) for row in rows]


def only_warning(result: MergeResult, needle: str) -> str:
    matches = [w for w in result.warnings if needle in w]
    assert len(matches) == 1, result.warnings
    return matches[0]


# --- the happy path -------------------------------------------------------------------------------


def test_merges_stores_in_sorted_order_with_canonical_header_and_provenance(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    b = write_file("B002-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("21", "9876500021", "P21", "B002")))
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("11", "9876500011", "P11", "A001", name="  Ravi Kumar "),
            lead("12", "9876500012", "P12", "A001"),
        ),
    )
    # Mapping order is not store order: the merge sorts stores.
    result = merge_bucket(MISSED_LEADS, {"B002": b, "A001": a}, out_dir, DAY, logger=event_logger)

    assert result.merged_path == out_dir / "merged_missed_leads_20251117.csv"
    assert result.download_rows_by_store == {"A001": 2, "B002": 1}
    assert (result.download_total, result.raw_rows, result.merged_rows) == (3, 3, 3)
    assert result.source_files == {"A001": a, "B002": b}
    assert result.warnings == []

    header, rows = read_merged(result.merged_path)
    assert header == MISSED_COLUMNS
    assert rows[0] == {
        "pickup_row_id": "11",
        "mobile_number": "9876500011",
        "pickup_no": "P11",
        "pickup_created_date": "2025-11-17",
        "pickup_created_time": "19:09:29",
        "store_code": "A001",
        "store_name": "Store A001",
        "pickup_date": "2025-11-18",
        "pickup_time": "10:00 AM - 12:00 PM",
        "customer_name": "  Ravi Kumar ",  # text exactly as read: no trimming
        "special_instruction": "",
        "source": "Customer App",
        "final_source": "WhatsApp",
        "customer_type": "New",
        "is_order_placed": "0",
        "source_file": "A001-missed-leads.csv",
        "source_line": "2",
    }
    assert pick(rows, "pickup_row_id", "source_file", "source_line") == [
        ("11", "A001-missed-leads.csv", "2"),
        ("12", "A001-missed-leads.csv", "3"),
        ("21", "B002-missed-leads.csv", "2"),
    ]


def test_merge_event_carries_bucket_counts_and_merged_file(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    empty = write_file("B002-missed-leads.csv", b"")
    merge_bucket(MISSED_LEADS, {"A001": a, "B002": empty}, out_dir, DAY, logger=event_logger)

    merge_events = [e for e in event_logger.events if e["phase"] == "merge"]
    warn_events = [e for e in merge_events if e["status"] == "warn" and e["store_code"] == "B002"]
    assert len(warn_events) == 1 and "B002-missed-leads.csv" in warn_events[0]["message"]
    summary = merge_events[-1]
    assert summary["bucket"] == "missed_leads"
    assert summary["merged_file"] == "merged_missed_leads_20251117.csv"
    assert summary["counts"] == {"download_total": 1, "raw_rows": 1, "merged_rows": 1}
    assert summary["extras"]["download_rows_by_store"] == {"A001": 1, "B002": 0}
    assert summary["status"] == "warn"  # a file was skipped


def test_values_are_text_exactly_as_read(write_file: WriteFile, out_dir: Path) -> None:
    line = lead("0007", "09876500001", " P1 ", "a001").removesuffix(",0") + ",1.0"
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, line))
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "mobile_number", "pickup_no", "store_code", "is_order_placed") == [
        ("0007", "09876500001", " P1 ", "a001", "1.0")
    ]


# --- encodings and line endings ------------------------------------------------------------------


def test_utf8_bom_is_stripped_before_header_mapping(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        b"\xef\xbb\xbf" + csv_bytes(MISSED_HEADER, lead("5", "9876500005", "P5", "A001")),
    )
    repeat = write_file(
        "A001-repeat-customers.csv", b"\xef\xbb\xbfStore Code,Mobile No.,Status\nA001,9876500005,Yes\n"
    )

    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.warnings == []
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "pickup_no") == [("5", "P5")]

    result = merge_bucket(REPEAT_CUSTOMERS, {"A001": repeat}, out_dir, DAY)
    assert result.warnings == []
    header, rows = read_merged(result.merged_path)
    assert header == ["store_code", "mobile_no", "status", "source_file", "source_line"]
    assert pick(rows, "store_code", "mobile_no", "status") == [("A001", "9876500005", "Yes")]


def test_invalid_utf8_is_replaced_with_one_warning_naming_the_file(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    content = (
        MISSED_HEADER.encode()
        + b"\n"
        + lead("1", "9876500001", "P1", "A001", name="Jos\xe9").encode("latin-1")
        + b"\n"
        + lead("2", "9876500002", "P2", "A001", name="Ma\xefa \xff").encode("latin-1")
        + b"\n"
    )
    a = write_file("A001-missed-leads.csv", content)
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY, logger=event_logger)

    warning = only_warning(result, "A001-missed-leads.csv")
    assert "UTF-8" in warning and "line 2" in warning
    assert len(result.warnings) == 1
    assert "Jos" not in warning and "9876500001" not in warning
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "customer_name", "source_line") == [("Jos\ufffd", "2"), ("Ma\ufffda \ufffd", "3")]
    assert result.merged_rows == 2


def test_a_bad_byte_is_counted_from_the_first_line_even_when_it_is_blank(
    write_file: WriteFile, out_dir: Path
) -> None:
    content = (
        b"\n"
        + MISSED_HEADER.encode()
        + b"\n"
        + lead("1", "9876500001", "P1", "A001", name="Jos\xe9").encode("latin-1")
        + b"\n"
    )
    a = write_file("A001-missed-leads.csv", content)
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert "(first bad byte on line 3)" in only_warning(result, "UTF-8")
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "customer_name", "source_line") == [("Jos\ufffd", "3")]


def test_crlf_line_endings_leave_no_carriage_returns(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("1", "9876500001", "P1", "A001"),
            lead("2", "9876500002", "P2", "A001"),
            eol="\r\n",
        ),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert b"\r" not in result.merged_path.read_bytes()  # type: ignore[union-attr]
    header, rows = read_merged(result.merged_path)
    assert header == MISSED_COLUMNS
    assert pick(rows, "pickup_row_id", "is_order_placed", "source_line") == [("1", "0", "2"), ("2", "0", "3")]


def test_quoted_commas_quotes_and_newlines_survive_and_source_line_is_the_physical_start(
    write_file: WriteFile, out_dir: Path
) -> None:
    note_multiline = '"Ring twice,\nthen call\r\nthe ""guard"""'
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,  # line 1
            lead("1", "9876500001", "P1", "A001", note=note_multiline),  # lines 2-4
            lead("2", "9876500002", "P2", "A001", note='"gate 2, left"'),  # line 5
            lead("3", "9876500003", "P3", "A001", name='"Devi\n(aunt)"'),  # lines 6-7
            lead("4", "9876500004", "P4", "A001"),  # line 8
            eol="\r\n",
        ),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.merged_rows == 4
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "special_instruction", "customer_name", "source_line") == [
        ("1", 'Ring twice,\nthen call\r\nthe "guard"', "Asha", "2"),
        ("2", "gate 2, left", "Asha", "5"),
        ("3", "", "Devi\n(aunt)", "6"),
        ("4", "", "Asha", "8"),
    ]


def test_missing_final_newline_does_not_glue_records_across_files(
    write_file: WriteFile, out_dir: Path
) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001"), final_newline=False),
    )
    b = write_file(
        "B002-missed-leads.csv",
        csv_bytes(MISSED_HEADER, lead("2", "9876500002", "P2", "B002"), eol="\r\n", final_newline=False),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY)
    assert result.download_rows_by_store == {"A001": 1, "B002": 1}
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "store_code", "is_order_placed", "source_file", "source_line") == [
        ("1", "A001", "0", "A001-missed-leads.csv", "2"),
        ("2", "B002", "0", "B002-missed-leads.csv", "2"),
    ]


def test_blank_lines_are_not_records_and_do_not_shift_source_lines(
    write_file: WriteFile, out_dir: Path
) -> None:
    content = (
        b"\r\n"  # line 1: blank before the header
        + MISSED_HEADER.encode()  # line 2
        + b"\r\n\r\n"  # line 3 blank
        + lead("1", "9876500001", "P1", "A001").encode()  # line 4
        + b"\r\n\r\n\r\n"  # lines 5, 6 blank
        + lead("2", "9876500002", "P2", "A001").encode()  # line 7
        + b"\r\n\r\n"  # line 8 blank
    )
    a = write_file("A001-missed-leads.csv", content)
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.download_rows_by_store == {"A001": 2}
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "source_line") == [("1", "4"), ("2", "7")]


# --- files that contribute no rows ----------------------------------------------------------------


def test_header_only_file_gives_zero_rows_and_a_warning(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    b = write_file("B002-missed-leads.csv", csv_bytes(MISSED_HEADER, eol="\r\n"))
    c = write_file("C003-missed-leads.csv", csv_bytes(MISSED_HEADER, final_newline=False))
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b, "C003": c}, out_dir, DAY)

    assert result.download_rows_by_store == {"A001": 1, "B002": 0, "C003": 0}
    assert (result.download_total, result.raw_rows, result.merged_rows) == (1, 1, 1)
    assert "header only" in only_warning(result, "B002-missed-leads.csv")
    assert "header only" in only_warning(result, "C003-missed-leads.csv")
    assert len(result.warnings) == 2
    assert result.source_files == {"A001": a, "B002": b, "C003": c}  # cleanup deletes them all


@pytest.mark.parametrize(
    "content", [b"", b"\xef\xbb\xbf", b"  \r\n\n", b"\n"], ids=["zero", "bom", "ws", "nl"]
)
def test_empty_file_gives_zero_rows_and_a_warning(
    write_file: WriteFile, out_dir: Path, content: bytes
) -> None:
    a = write_file("A001-missed-leads.csv", content)
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.download_rows_by_store == {"A001": 0}
    assert (result.raw_rows, result.merged_rows) == (0, 0)
    assert "empty" in only_warning(result, "A001-missed-leads.csv")
    assert len(result.warnings) == 1
    header, rows = read_merged(result.merged_path)
    assert header == MISSED_COLUMNS and rows == []


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><body><form id=login>id,mobile_number</form></body></html>\n",
        b"\xef\xbb\xbf\n\n  <HTML lang='en'><head><title>Login</title></head></HTML>",
        b"<!-- maintenance -->" + b" " * 400 + b"<!doctype HTML><p>down</p>",
    ],
    ids=["doctype", "upper-bom", "late-in-512"],
)
def test_html_body_is_not_parsed(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger, body: bytes
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    b = write_file("B002-missed-leads.csv", body)
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY, logger=event_logger)

    assert result.download_rows_by_store == {"A001": 1, "B002": 0}
    assert "HTML" in only_warning(result, "B002-missed-leads.csv")
    assert len(result.warnings) == 1  # no unknown-column or parse warning: the body is never parsed
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id") == [("1",)]
    assert result.source_files["B002"] == b


def test_html_marker_beyond_the_first_512_chars_is_data(write_file: WriteFile, out_dir: Path) -> None:
    filler = "x" * 600
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001", note=f"{filler} <html> pasted")),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.warnings == []
    _, rows = read_merged(result.merged_path)
    assert rows[0]["special_instruction"] == f"{filler} <html> pasted"


def test_parse_error_in_one_file_skips_only_that_file(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    ragged = write_file(
        "B002-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("2", "9876500002", "P2", "B002"),
            lead("3", "9876500003", "P3", "B002") + ",extra,9876500099",  # line 3: 17 fields
        ),
    )
    c = write_file("C003-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("4", "9876500004", "P4", "C003")))
    result = merge_bucket(
        MISSED_LEADS, {"A001": a, "B002": ragged, "C003": c}, out_dir, DAY, logger=event_logger
    )

    assert result.download_rows_by_store == {"A001": 1, "B002": 0, "C003": 1}
    assert result.merged_rows == 2
    warning = only_warning(result, "B002-missed-leads.csv")
    assert "could not be parsed" in warning and "line 3" in warning and "17 fields" in warning
    assert "9876500099" not in warning and "9876500003" not in warning
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "source_file") == [
        ("1", "A001-missed-leads.csv"),
        ("4", "C003-missed-leads.csv"),
    ]


def test_unterminated_quote_is_a_parse_error_for_that_file(write_file: WriteFile, out_dir: Path) -> None:
    bad = write_file(
        "A001-missed-leads.csv",
        csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001", note='"never closed')),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": bad}, out_dir, DAY)
    assert result.download_rows_by_store == {"A001": 0}
    assert "could not be parsed" in only_warning(result, "A001-missed-leads.csv")
    assert "never closed" not in result.warnings[0]


def test_missing_files_are_warned_and_no_files_at_all_gives_no_merged_path(
    write_file: WriteFile, out_dir: Path, tmp_path: Path
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    gone = tmp_path / "downloads" / "B002-missed-leads.csv"
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": gone}, out_dir, DAY)
    assert result.download_rows_by_store == {"A001": 1, "B002": 0}
    assert result.source_files == {"A001": a}
    assert "B002" in only_warning(result, "no file")

    nothing = merge_bucket(MISSED_LEADS, {"B002": gone}, out_dir / "none", DAY)
    assert nothing.merged_path is None
    assert (nothing.download_total, nothing.merged_rows, nothing.source_files) == (0, 0, {})
    assert not (out_dir / "none").exists()
    assert merge_bucket(MISSED_LEADS, {}, out_dir / "none", DAY).merged_path is None


# --- header mapping --------------------------------------------------------------------------------


def test_unknown_columns_warn_once_per_file_and_are_skipped(write_file: WriteFile, out_dir: Path) -> None:
    header = MISSED_HEADER + ",Lead Score,internal_flag"
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            header,
            lead("1", "9876500001", "P1", "A001") + ",87,x",
            lead("2", "9876500002", "P2", "A001") + ",5,y",
        ),
    )
    b = write_file(
        "B002-missed-leads.csv",
        csv_bytes("Lead Score," + MISSED_HEADER, "3," + lead("3", "9876500003", "P3", "B002")),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY)

    warning_a = only_warning(result, "A001-missed-leads.csv")
    assert "'Lead Score'" in warning_a and "'internal_flag'" in warning_a and "2 unknown" in warning_a
    assert "'Lead Score'" in only_warning(result, "B002-missed-leads.csv")
    assert len(result.warnings) == 2
    header_out, rows = read_merged(result.merged_path)
    assert header_out == MISSED_COLUMNS
    assert pick(rows, "pickup_row_id", "is_order_placed") == [("1", "0"), ("2", "0"), ("3", "0")]


def test_headers_match_case_and_spacing_insensitively_and_alternates(
    write_file: WriteFile, out_dir: Path
) -> None:
    # Undelivered accepts `order_no` for order_id; header spelling varies between stores.
    a = write_file(
        "A001-undelivered-all.csv",
        csv_bytes(
            "order_no,order_date,store_code,store_name,taxable_amount,net_amount,service_code,mobile_no,status,"
            "customer_id,expected_deliver_on,actual_deliver_on",
            "T846,2025-11-10,A001,Store A,100.00,118.00,DC,9876500001,Pending,C1,2025-11-13,",
        ),
    )
    b = write_file(
        "B002-undelivered-all.csv",
        csv_bytes("Order Id, Store-Code ,NET AMOUNT,Mobile No", "T846,B002,0.00,9876500002"),
    )
    result = merge_bucket(UNDELIVERED_ALL, {"B002": b, "A001": a}, out_dir, DAY)
    assert result.warnings == []
    header, rows = read_merged(result.merged_path)
    assert header == [*UNDELIVERED_ALL.column_names, "source_file", "source_line"]
    assert pick(rows, "order_id", "store_code", "net_amount", "mobile_no", "order_date", "status") == [
        ("T846", "A001", "118.00", "9876500001", "2025-11-10", "Pending"),
        ("T846", "B002", "0.00", "9876500002", "", ""),  # absent columns are empty
    ]


def test_repeat_customers_vendor_headers(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file(
        "A001-repeat-customers.csv",
        b"Store Code,Mobile No.,Status\r\nA001,9876500001,Yes\r\nA001,9876500002,Yes\r\n",
    )
    b = write_file("B002-repeat-customers.csv", b"store code,MOBILE_NO,status\nB002,9876500001,Yes")
    result = merge_bucket(REPEAT_CUSTOMERS, {"A001": a, "B002": b}, out_dir, DAY)
    assert result.warnings == []
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "store_code", "mobile_no", "status", "source_file", "source_line") == [
        ("A001", "9876500001", "Yes", "A001-repeat-customers.csv", "2"),
        ("A001", "9876500002", "Yes", "A001-repeat-customers.csv", "3"),
        ("B002", "9876500001", "Yes", "B002-repeat-customers.csv", "2"),
    ]


def test_two_headers_for_one_column_first_wins_with_a_warning(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file("A001-undelivered-all.csv", csv_bytes("store_code,order_id,order_no", "A001,T1,X9"))
    result = merge_bucket(UNDELIVERED_ALL, {"A001": a}, out_dir, DAY)
    warning = only_warning(result, "A001-undelivered-all.csv")
    assert "'order_no'" in warning and "already mapped" in warning
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "store_code", "order_id") == [("A001", "T1")]


def test_headerless_file_does_not_echo_its_data_in_warnings(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    a = write_file("A001-repeat-customers.csv", b"A001,9876543210,Lakshmi Narayanan\nA001,9876500002,Yes\n")
    result = merge_bucket(REPEAT_CUSTOMERS, {"A001": a}, out_dir, DAY, logger=event_logger)
    warning = only_warning(result, "A001-repeat-customers.csv")
    assert "no header row" in warning
    logged = json.dumps(event_logger.events)
    for text in (warning, logged):
        assert "9876543210" not in text and "Lakshmi" not in text
    # The data row still counts (validation rejects it: no key values).
    assert result.merged_rows == 1


# --- de-duplication --------------------------------------------------------------------------------


def test_duplicate_keys_keep_the_last_occurrence_within_and_across_files(
    write_file: WriteFile, out_dir: Path
) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("1", "9876500001", "P1", "A001", name="first"),  # line 2: replaced by line 4
            lead("2", "9876500002", "P2", "A001"),  # line 3
            lead("3", "9876500001", "P1", "A001", name="second"),  # line 4: replaced by B002's file
            lead("4", "9876500004", "P1", "B002", name="b-old"),  # line 5: replaced by B002's file
        ),
    )
    b = write_file(
        "B002-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("5", "9876500005", "P1", "B002", name="b-new"),  # line 2
            lead("6", "9876500001", "P1", "A001", name="third"),  # line 3: last P1@A001
        ),
    )
    result = merge_bucket(MISSED_LEADS, {"B002": b, "A001": a}, out_dir, DAY)
    assert (result.download_total, result.raw_rows, result.merged_rows) == (6, 6, 3)
    _, rows = read_merged(result.merged_path)
    # Kept records stay in the order of their (last) occurrence.
    assert pick(rows, "pickup_row_id", "customer_name", "source_file", "source_line") == [
        ("2", "Asha", "A001-missed-leads.csv", "3"),
        ("5", "b-new", "B002-missed-leads.csv", "2"),
        ("6", "third", "B002-missed-leads.csv", "3"),
    ]


def test_many_stores_merge_to_what_one_frame_of_all_their_records_would_keep(
    write_file: WriteFile, out_dir: Path
) -> None:
    """Stores are read a few at a time and set aside, not held at once: the merged file is still exactly
    the last occurrence of every key across all of them, in order, and nothing else is left behind."""
    files = {}
    for number in range(30):
        code = f"B{number:03d}"
        # Pickup numbers repeat across stores for the same store code, so later files replace rows.
        rows = [
            lead(str(number * 10 + i), f"98765{number:03d}{i:02d}", f"P{(number + i) % 7}", "A001")
            for i in range(5)
        ]
        files[code] = write_file(f"{code}-missed-leads.csv", csv_bytes(MISSED_HEADER, *rows))
    result = merge_bucket(MISSED_LEADS, files, out_dir, DAY)

    everything = pl.concat(
        pl.read_csv(files[code], infer_schema=False).with_columns(pl.lit(files[code].name).alias("file"))
        for code in sorted(files)
    )
    expected = deduplicate(everything, ("store_code", "pickup_no"))
    _, rows = read_merged(result.merged_path)
    assert (result.raw_rows, result.merged_rows) == (150, expected.height) and expected.height == 7
    assert [(r["pickup_no"], r["source_file"]) for r in rows] == list(
        zip(expected["pickup_no"].to_list(), expected["file"].to_list(), strict=True)
    )
    assert sorted(p.name for p in out_dir.iterdir()) == [result.merged_path.name]


def test_store_code_case_and_padding_do_not_make_a_key_distinct(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER, lead("1", "9876500001", "P1", "a001 "), lead("2", "9876500001", " P1", "A001")
        ),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert result.merged_rows == 1
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "store_code", "pickup_no") == [("2", "A001", " P1")]


def test_rows_with_empty_keys_are_kept_and_never_collapsed(write_file: WriteFile, out_dir: Path) -> None:
    a = write_file(
        "A001-missed-leads.csv",
        csv_bytes(
            MISSED_HEADER,
            lead("1", "9876500001", "", "A001"),
            lead("2", "9876500002", "", "A001"),
            lead("3", "9876500003", "  ", "A001"),
            lead("4", "9876500004", "P4", ""),
            lead("5", "9876500005", "P4", ""),
            lead("6", "9876500006", "P6", "A001"),
        ),
    )
    # Repeat customers without a mobile column at all: every key is missing.
    b = write_file("B002-repeat-customers.csv", b"Store Code,Status\nB002,Yes\nB002,Yes\n")

    result = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert (result.raw_rows, result.merged_rows) == (6, 6)
    _, rows = read_merged(result.merged_path)
    assert pick(rows, "pickup_row_id", "pickup_no", "store_code") == [
        ("1", "", "A001"),
        ("2", "", "A001"),
        ("3", "  ", "A001"),
        ("4", "P4", ""),
        ("5", "P4", ""),
        ("6", "P6", "A001"),
    ]

    repeat = merge_bucket(REPEAT_CUSTOMERS, {"B002": b}, out_dir, DAY)
    assert (repeat.raw_rows, repeat.merged_rows) == (2, 2)


@pytest.mark.parametrize(
    ("store_b", "empty"),
    [("A001", None), (" a001", ""), ("A001", " ")],
    ids=["plain-keys", "case-and-padding", "blank-key"],
)
def test_deduplicate_keeps_last_per_key_and_every_empty_key(store_b: str, empty: str | None) -> None:
    frame = pl.DataFrame(
        {
            "store_code": ["A001", "A001", store_b, None, None, "A001", "A001", "B002"],
            "pickup_no": ["P1", "P2", "P1", "P1", "P1", None, empty, "P1"],
            "n": ["1", "2", "3", "4", "5", "6", "7", "8"],
        }
    )
    kept = deduplicate(frame, ("store_code", "pickup_no"))
    assert kept["n"].to_list() == ["2", "3", "4", "5", "6", "7", "8"]
    assert kept["store_code"].to_list()[1] == store_b  # the kept row is unchanged


# --- writing -----------------------------------------------------------------------------------------


def test_merged_file_is_replaced_atomically(
    write_file: WriteFile, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    first = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY)
    assert first.merged_path is not None
    before = first.merged_path.read_bytes()

    # A rerun whose rename fails leaves the previous merged file intact and no temporary file behind.
    b = write_file("B002-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("2", "9876500002", "P2", "B002")))

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(
        MergeError, match=r"merged_missed_leads_20251117\.csv could not be written \(disk full\)$"
    ) as info:
        merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY)
    assert not is_transient(info.value) and str(info.value.__cause__) == "disk full"
    monkeypatch.undo()
    assert first.merged_path.read_bytes() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["merged_missed_leads_20251117.csv"]

    second = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY)
    assert second.merged_rows == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["merged_missed_leads_20251117.csv"]


def test_warnings_and_events_never_contain_personal_values(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    name, mobile = "Savitri Devi", "9123456789"
    a = write_file(
        "A001-missed-leads.csv",
        MISSED_HEADER.encode()
        + b",9988776655\n"
        + lead("1", mobile, "P1", "A001", name=name).encode()
        + b",x\xff\n",
    )
    b = write_file(
        "B002-missed-leads.csv",
        csv_bytes(MISSED_HEADER, lead("2", mobile, "P2", "B002", name=name) + f',"{name}",{mobile}'),
    )
    result = merge_bucket(MISSED_LEADS, {"A001": a, "B002": b}, out_dir, DAY, logger=event_logger)
    assert len(result.warnings) == 3  # unknown column + bad bytes in A001, parse error in B002
    logged = json.dumps(event_logger.events, ensure_ascii=False)
    for text in [*result.warnings, logged]:
        for secret in (name, "Savitri", mobile, "9988776655"):
            assert secret not in text
    # The mobile-like unknown header is masked, not dropped: the operator still sees which column it was.
    assert "99******55" in only_warning(result, "unknown column")


@pytest.mark.parametrize(
    ("data", "diagnosis"),
    [
        (b"", "no header"),
        (b"a,b\n1,2\n1,2,3\n", "record on line 3 has 3 fields, the header has 2"),
        (b"a,b\n\n1,2,3\n", "record on line 3 has 3 fields, the header has 2"),  # a blank line counts
        (b'a,b\n"x\ny",1\n1,2,3\n', "record on line 4 has 3 fields, the header has 2"),  # a multi-line value
        (
            b"\n\na,b\n1,2,3\n",
            "record on line 4 has 3 fields, the header has 2",
        ),  # blank lines before the header
        (b"a,b\n\xff,1,2\n", "record on line 2 has 3 fields, the header has 2"),  # bad bytes are no crash
        (b"a,b\n1\n", "malformed quoting"),  # a short record is no error
        (b'a,b\n"x"y,1\n', "malformed quoting near line 2"),
        (b'a,b\n1,"x', "malformed quoting near line 2"),
    ],
)
def test_the_parse_diagnosis_names_the_first_bad_line(data: bytes, diagnosis: str) -> None:
    assert _diagnose(data) == diagnosis


def test_a_file_polars_cannot_parse_is_skipped_with_the_diagnosis(
    write_file: Callable[[str, bytes], Path], out_dir: Path
) -> None:
    path = write_file("A001.csv", b"Lead ID,Store Code\n1,A001\n2,A001,extra\n")
    result = merge_bucket(MISSED_LEADS, {"A001": path}, out_dir, date(2026, 3, 1))
    assert result.warnings == [
        "A001.csv: CSV could not be parsed (record on line 3 has 3 fields, the header has 2); 0 rows"
    ]
    assert result.merged_rows == 0 and result.source_files == {"A001": path}


def test_an_unknown_header_is_shown_without_bom_and_cut_after_40_characters() -> None:
    assert _show_header("\ufeff" + "a" * 40) == repr("a" * 40)
    assert _show_header("a" * 41) == repr("a" * 40 + "…")


def test_a_lone_cr_ends_a_record_outside_quotes_only() -> None:
    assert _lone_cr_to_lf(b"a\rb\r\nc\r") == b"a\nb\r\nc\n"  # CRLF stays, a CR at the very end too ends one
    assert _lone_cr_to_lf(b"a\rb\r\n") == b"a\nb\r\n"
    assert _lone_cr_to_lf(b'a"x\ry"\rb') == b'a"x\ry"\nb'  # the first quote at offset 1
    assert _lone_cr_to_lf(b'a,"x\ry"\rb') == b'a,"x\ry"\nb'
    assert _lone_cr_to_lf(b"a\r\nb") == b"a\r\nb"


@pytest.mark.parametrize(
    ("data", "header_offset", "physical_rows", "keep", "start_lines"),
    [
        (b"h\n1\n\n2\r\n\r\n", 0, 4, [True, False, True, False], [2, 4]),  # one-byte record, blank lines
        (b"h\n1\n\r", 0, 2, [True, False], [2]),  # a lone CR as the last record is blank
        (b"\n\nh\n1\n", 2, 1, [True], [4]),
        (b'h\n"x\ny"\n2\n', 0, 2, [True, True], [2, 4]),
        (b'h"\n"\n2\n', 0, 1, [True], [3]),  # the first quote at offset 1: one quoted header spans two lines
        (b"\r\n\n", 3, 0, [], []),  # nothing but blank lines
    ],
)
def test_record_starts_and_blank_lines_are_located_from_the_bytes(
    data: bytes, header_offset: int, physical_rows: int, keep: list[bool], start_lines: list[int]
) -> None:
    records = _locate_records(data)
    assert (records.header_offset, records.physical_rows) == (header_offset, physical_rows)
    assert records.keep.dtype == np.bool_ and records.keep.tolist() == keep
    assert records.start_lines.dtype == np.int64 and records.start_lines.tolist() == start_lines


def test_unknown_and_repeated_headers_are_listed_in_one_warning_each(
    write_file: Callable[[str, bytes], Path], out_dir: Path
) -> None:
    path = write_file("A001.csv", b"Store Code,Foo,Bar,Store Code,Store Code\nA001,x,y,A001,A001\n")
    result = merge_bucket(MISSED_LEADS, {"A001": path}, out_dir, date(2026, 3, 1))
    assert result.warnings == [
        "A001.csv: 2 unknown column(s) skipped: 'Foo', 'Bar'",
        "A001.csv: column(s) already mapped by an earlier header, skipped: "
        "'Store Code'→store_code, 'Store Code'→store_code",
    ]


def test_an_empty_header_cell_is_listed_as_an_empty_name(
    write_file: Callable[[str, bytes], Path], out_dir: Path
) -> None:
    path = write_file("A001.csv", b"Store Code,,Foo\nA001,x,y\n")
    result = merge_bucket(MISSED_LEADS, {"A001": path}, out_dir, date(2026, 3, 1))
    assert result.warnings == ["A001.csv: 2 unknown column(s) skipped: '', 'Foo'"]


def test_no_input_file_at_all_merges_nothing_and_says_so(out_dir: Path, event_logger: EventLogger) -> None:
    result = merge_bucket(MISSED_LEADS, {"A001": out_dir / "missing.csv"}, out_dir, DAY, event_logger)
    assert result == MergeResult(
        "missed_leads",
        None,
        {"A001": 0},
        0,
        0,
        0,
        {},
        ["missed_leads: no file for store A001 (missing.csv); 0 rows"],
    )
    assert event_logger.events is not None
    assert [(e["phase"], e["status"], e["message"], e["bucket"]) for e in event_logger.events][-1] == (
        "merge",
        "warn",
        "no input file exists; nothing merged",
        "missed_leads",
    )


def test_an_unreadable_file_is_kept_as_a_source_and_merges_to_a_header_only_file(
    write_file: WriteFile, out_dir: Path, event_logger: EventLogger
) -> None:
    a = write_file("A001-missed-leads.csv", csv_bytes(MISSED_HEADER, lead("1", "9876500001", "P1", "A001")))
    unreadable = a.parent / "B002-missed-leads.csv"
    unreadable.mkdir()  # reading a directory fails like a file without read permission
    result = merge_bucket(MISSED_LEADS, {"B002": unreadable}, out_dir, DAY, event_logger)
    assert result.warnings == ["B002-missed-leads.csv: unreadable (IsADirectoryError); 0 rows"]
    assert result.source_files == {"B002": unreadable} and result.merged_rows == 0
    assert result.bucket == "missed_leads"
    assert result.merged_path is not None
    assert result.merged_path.read_text().splitlines()[0].split(",")[:2] == list(
        MISSED_LEADS.column_names[:2]
    )
    assert event_logger.events is not None
    warning, merged = event_logger.events
    assert (warning["status"], warning["bucket"], warning["store_code"]) == ("warn", "missed_leads", "B002")
    assert (merged["status"], merged["bucket"], merged["extras"]["warnings"]) == ("warn", "missed_leads", 1)
    event_logger.events.clear()
    clean = merge_bucket(MISSED_LEADS, {"A001": a}, out_dir, DAY, event_logger)
    (event,) = event_logger.events
    assert (event["status"], event["bucket"], event["merged_file"]) == (
        "ok",
        "missed_leads",
        clean.merged_path.name,
    )  # type: ignore[union-attr]
    assert event["extras"]["warnings"] == 0 and event["duration_ms"] is not None
    assert event["message"] == "merged 1 file(s): 1 rows read, 1 after de-dup"


def test_only_store_codes_compare_case_insensitively_and_blank_keys_never_collapse() -> None:
    frame = pl.DataFrame(
        {"lead_id": ["ab", "AB", " ", " "], "store_code": ["a1 ", "A1", "A1", "A1"], "v": [1, 2, 3, 4]}
    )
    assert deduplicate(frame, ["lead_id", "store_code"])["v"].to_list() == [1, 2, 3, 4]
    lower = pl.DataFrame({"lead_id": ["1", "1"], "store_code": ["a1", "A1"], "v": [1, 2]})
    assert deduplicate(lower, ["lead_id", "store_code"])["v"].to_list() == [2]  # lower case alone normalises
