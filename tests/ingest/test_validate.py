"""Coercion rules (docs/domain.md), vectorised (polars) and per row (pydantic model), which must agree."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from crm_core.exports import MISSED_LEADS, UNDELIVERED_ALL, ExportColumn, ExportSpec
from crm_core.ingest.validate import Validator, coerce_expr, row_model, validate_row


def coerce(kind: str, values: list[str | None], name: str = "v") -> list[Any]:
    column = ExportColumn(name, kind)  # type: ignore[arg-type]
    frame = pl.DataFrame({name: values}, schema={name: pl.String})
    return frame.select(coerce_expr(column)).to_series().to_list()


def test_boolean_rule_only_a_trimmed_one_is_true() -> None:
    values = ["1", " 1 ", "0", "", None, "true", "TRUE", "yes", "1.0", "2", "-1"]
    assert coerce("bool", values) == [True, True] + [False] * 9


def test_text_is_trimmed_and_empty_becomes_null_store_codes_upper_cased() -> None:
    assert coerce("text", ["  Asha ", "", "   ", None, "a\u00a0"]) == ["Asha", None, None, None, "a"]
    assert coerce("text", [" a668 ", "t846"], name="store_code") == ["A668", "T846"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-17", date(2025, 11, 17)),
        ("17-11-2025", date(2025, 11, 17)),
        ("17/11/2025", date(2025, 11, 17)),
        ("05/11/2025", date(2025, 11, 5)),  # ambiguous: DD/MM first
        ("11/21/2025", date(2025, 11, 21)),  # not a valid DD/MM → MM/DD
        ("1/5/2025", date(2025, 5, 1)),
        ("2025-11-17 10:30", date(2025, 11, 17)),
        ("17/11/2025 10:30:59", date(2025, 11, 17)),
        ("17-11-2025 9:05", date(2025, 11, 17)),
        ("2025-11-17T23:30:00", date(2025, 11, 17)),
        ("2025-11-17T23:30:00.123456Z", date(2025, 11, 17)),
        ("2025-11-17T23:30:00+05:30", date(2025, 11, 17)),
        (" 2025-11-17 ", date(2025, 11, 17)),
        ("31/02/2025", None),
        ("2025-13-01", None),
        ("17.11.2025", None),
        ("2025-11-17 25:00", None),
        ("17/11/25", None),
        ("0000-01-01", None),
        ("01-01-0000", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_date_formats(raw: str, expected: date | None) -> None:
    assert coerce("date", [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.5", 1234.5),
        ("₹1,23,456.50", 123456.5),
        ("₹ 12,34,56,789", 123456789.0),
        ("1,234,567.25", 1234567.25),
        (" 2 500 ", 2500.0),
        ("-12.5", -12.5),
        ("0", 0.0),
        ("1,2,3", None),
        ("12,34", None),
        ("1.2.3", None),
        ("abc", None),
        ("१२३", None),
        ("nan", None),
        ("", None),
    ],
)
def test_numbers(raw: str, expected: float | None) -> None:
    assert coerce("float", [raw]) == [expected]


def test_integers_accept_whole_floats_and_stay_in_the_integer_range() -> None:
    values = ["12345", "12345.0", " 1,234 ", "12.5", "2147483647", "2147483648", "-2147483648", "x", ""]
    assert coerce("int", values) == [12345, 12345, 1234, None, 2147483647, None, -2147483648, None, None]


def frame(spec: ExportSpec, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    columns = [*spec.column_names, "source_file", "source_line"]
    data = [
        {c: row.get(c, str(n + 2) if c == "source_line" else "A668-x.csv" if c == "source_file" else None)
         for c in columns}
        for n, row in enumerate(rows)
    ]  # fmt: skip
    return pl.DataFrame(data, schema={c: pl.String for c in columns})


ROWS: list[dict[str, str | None]] = [
    {"pickup_row_id": "1", "mobile_number": "9800000001", "pickup_no": "P1", "store_code": "a668"},
    {"pickup_row_id": "2.0", "mobile_number": " 9800000002 ", "pickup_no": "P2", "store_code": "A668",
     "pickup_date": "not a date", "is_order_placed": "true"},
    {"pickup_row_id": "", "mobile_number": "9800000003", "pickup_no": "P3", "store_code": "A668"},
    {"pickup_row_id": "3.5", "mobile_number": "", "pickup_no": "P4", "store_code": "A668"},
    {"pickup_row_id": "4", "mobile_number": "9800000005", "pickup_no": " ", "store_code": None},
    {"pickup_row_id": "5", "mobile_number": "9800000006", "pickup_no": "P6", "store_code": "A668",
     "pickup_created_date": "31/11/2025", "pickup_date": "2025-11-19", "is_order_placed": " 1"},
]  # fmt: skip


def test_rejects_name_file_line_column_and_reason_only() -> None:
    result = Validator(MISSED_LEADS).validate(frame(MISSED_LEADS, ROWS), file_name="m.csv", line_offset=0)
    assert result.rejected_rows == 3 and result.valid.height == 3 and result.null_warnings == 2
    assert result.rejects.rows() == [
        ("A668-x.csv", 4, "pickup_row_id", "missing required value"),
        ("A668-x.csv", 5, "pickup_row_id", "not a whole number in the INTEGER range"),
        ("A668-x.csv", 5, "mobile_number", "missing required value"),
        ("A668-x.csv", 6, "pickup_no", "missing required value"),
        ("A668-x.csv", 6, "store_code", "missing required value"),
    ]
    valid = result.valid.to_dicts()
    assert [v["pickup_no"] for v in valid] == ["P1", "P2", "P6"]
    assert valid[0]["store_code"] == "A668" and valid[1]["mobile_number"] == "9800000002"
    assert valid[1]["pickup_date"] is None and valid[1]["is_order_placed"] is False
    assert valid[2]["is_order_placed"] is True and valid[2]["pickup_date"] == date(2025, 11, 19)
    assert result.valid.schema["pickup_row_id"] == pl.Int64 and result.valid.schema["pickup_date"] == pl.Date


def test_files_without_provenance_columns_report_the_merged_file_and_physical_line() -> None:
    batch = frame(MISSED_LEADS, ROWS).drop("source_file", "source_line")
    result = Validator(MISSED_LEADS).validate(batch, file_name="merged.csv", line_offset=3000)
    assert result.rejects.row(0) == ("merged.csv", 3004, "pickup_row_id", "missing required value")


def test_pydantic_row_model_agrees_with_the_vectorised_rules() -> None:
    spec = UNDELIVERED_ALL
    samples = ["", " ", "2025-11-17", "05/11/2025", "11/21/2025 10:00", "31/02/2025", "₹1,23,456.50",
               "12345.0", "1,2,3", "abc", " T846 ", "a668", "2025-11-17T10:00:00Z", "-5",
               "0000-01-01"]  # fmt: skip
    rows = []
    for i, value in enumerate(samples):
        rows.append({c: value for c in spec.column_names})
        rows.append({**{c: samples[(i + n) % len(samples)] for n, c in enumerate(spec.column_names)}})
    batch = frame(spec, rows)
    vectorised = Validator(spec).validate(batch, file_name="m.csv", line_offset=0)
    per_row = [validate_row(spec, row) for row in batch.to_dicts()]
    assert [o.row for o in per_row if o.row is not None] == vectorised.valid.to_dicts()
    assert sum(o.row is None for o in per_row) == vectorised.rejected_rows > 0
    assert sum(o.null_warnings for o in per_row) == vectorised.null_warnings > 0
    problems = [(line + 2, c, r) for line, o in enumerate(per_row) for c, r in o.problems]
    assert sorted(problems) == sorted((line, c, r) for _, line, c, r in vectorised.rejects.rows())


def test_row_model_is_derived_from_the_registry() -> None:
    model = row_model(MISSED_LEADS)
    assert list(model.model_fields) == list(MISSED_LEADS.column_names)
    raw = {"pickup_row_id": "7.0", "mobile_number": "9800000001", "pickup_no": "P", "store_code": " a1 "}
    row = model.model_validate({**raw, "is_order_placed": "1", "pickup_date": "19/11/2025"})
    assert row.model_dump()["pickup_row_id"] == 7 and row.model_dump()["store_code"] == "A1"
    assert (
        row.model_dump()["pickup_date"] == date(2025, 11, 19) and row.model_dump()["is_order_placed"] is True
    )
    with pytest.raises(ValidationError):
        model.model_validate(
            {"pickup_row_id": "7", "mobile_number": "", "pickup_no": "P", "store_code": "A1"}
        )


@pytest.mark.parametrize(("raw", "warnings"), [("₹", 0), (" ₹ ", 0), ("₹,", 1), (",", 1), ("₹ 12", 0)])
def test_a_money_cell_of_only_the_rupee_sign_is_empty_for_both_rule_sets(raw: str, warnings: int) -> None:
    """A sign without digits is no value (NULL, no warning); a separator without digits is not a number."""
    row: dict[str, str | None] = dict.fromkeys(UNDELIVERED_ALL.column_names)
    row |= {"order_id": "T1", "store_code": "A668", "net_amount": raw}
    batch = pl.DataFrame([row], schema=dict.fromkeys(UNDELIVERED_ALL.column_names, pl.String))
    result = Validator(UNDELIVERED_ALL).validate(batch, file_name="m.csv", line_offset=0)
    reference = validate_row(UNDELIVERED_ALL, row)
    assert result.null_warnings == reference.null_warnings == warnings
    assert reference.row is not None
    assert result.valid["net_amount"].to_list() == [reference.row["net_amount"]]
