"""Row validation of merged files: text in, typed columns out.

The production path is vectorised: one polars expression per registry column coerces a whole batch at once
and flags, per cell, a missing required value or a value that cannot be coerced. A row with such a flag on
a required column (declared required or a dedupe key) is rejected; on an optional column the value becomes
NULL and counts as a null warning.

`row_model` derives a pydantic model per export from the same registry, with per-value Python coercers
that follow the same rules. It is ~25× slower per row (benchmarks/ingest.py measures it), so it is used
where rows are few: checking the typed sample rows of a dry run, and as the reference the vectorised rules
are tested against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any

import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, create_model

from crm_core.exports import ColumnKind, ExportColumn, ExportSpec
from crm_core.ingest.merge import SOURCE_FILE, SOURCE_LINE

REJECT_COLUMNS = ("file", "line", "column", "reason")

# Store codes are compared upper-cased everywhere; merge de-duplicates the same way.
UPPER_CASE_COLUMNS = frozenset({"store_code"})

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# Unicode White_Space, what polars trims and its regex \s matches. Python's str.strip() and re's \s also
# take the separators U+001C-U+001F, so the per-row rules use this set to give the same outcome.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
WHITESPACE += "\u2028\u2029\u202f\u205f\u3000"
_WHITESPACE_RE = re.compile(f"[{WHITESPACE}]")  # the ingest tables' INTEGER columns are 32-bit on PostgreSQL

# [0-9], not \d: \d matches every script's digits, which the number parsers would then refuse.
# Plain digits, Western grouping (1,234,567) or Indian grouping (1,23,456), optional decimals.
_NUMBER = r"^[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3})(?:\.[0-9]+)?$"
_TIME = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?"
# YYYY-MM-DD, optionally with " HH:MM[:SS]" or an ISO date-time tail (T, fractions, zone).
_ISO_DATE = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})"
    rf"(?:[T ]{_TIME}(?:\.[0-9]{{1,9}})?(?:Z|[+-][0-9]{{2}}(?::?[0-9]{{2}})?)?)?$"
)
_DASH_DATE = rf"^([0-9]{{1,2}}-[0-9]{{1,2}}-[0-9]{{4}})(?: {_TIME})?$"
_SLASH_DATE = rf"^([0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}})(?: {_TIME})?$"
# Tried in this order: ambiguous slashes resolve as DD/MM first.
_DATE_FORMATS = (
    (_ISO_DATE, ("%Y-%m-%d",)),
    (_DASH_DATE, ("%d-%m-%Y",)),
    (_SLASH_DATE, ("%d/%m/%Y", "%m/%d/%Y")),
)

REASONS: dict[ColumnKind | str, str] = {
    "missing": "missing required value",
    # PostgreSQL text cannot hold U+0000: one such cell would fail (and roll back) the whole bucket.
    "text": "contains a NUL character (the database cannot store it)",
    "int": "not a whole number in the INTEGER range",
    "float": "not a number",
    "date": "not a date (YYYY-MM-DD, DD-MM-YYYY, DD/MM/YYYY or MM/DD/YYYY, optional time)",
}

POLARS_TYPES: dict[ColumnKind, pl.DataType] = {
    "text": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "date": pl.Date(),
    "bool": pl.Boolean(),
}


# --- vectorised (polars) --------------------------------------------------------------------------------


def _trimmed(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.strip_chars()


def _without_rupee_and_spaces(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.replace_all("₹", "", literal=True).str.replace_all(r"\s", "")


def _number_text(name: str) -> pl.Expr:
    """The value without ₹, whitespace and thousands separators, or NULL when it is not a number."""
    cleaned = _without_rupee_and_spaces(name)
    return pl.when(cleaned.str.contains(_NUMBER)).then(cleaned.str.replace_all(",", "", literal=True))


def coerce_expr(column: ExportColumn) -> pl.Expr:
    """The typed value of `column` (NULL when empty or not coercible)."""
    name = column.name
    if column.kind == "text":
        value = _trimmed(name)
        if name in UPPER_CASE_COLUMNS:
            value = value.str.to_uppercase()
        return pl.when((value != "") & ~value.str.contains("\x00", literal=True)).then(value)
    if column.kind == "bool":
        # The boolean rule: "1" → true, "0" → false, anything else (empty included) → false.
        return (_trimmed(name) == "1").fill_null(False)
    if column.kind == "float":
        return _number_text(name).cast(pl.Float64, strict=False)
    if column.kind == "int":
        number = _number_text(name).cast(pl.Float64, strict=False)
        whole = (number == number.floor()) & number.is_between(INT_MIN, INT_MAX)
        return pl.when(whole).then(number).cast(pl.Int64)
    trimmed = _trimmed(name)
    candidates = [
        trimmed.str.extract(pattern, 1).str.strptime(pl.Date, fmt, strict=False)
        for pattern, formats in _DATE_FORMATS
        for fmt in formats
    ]
    parsed = pl.coalesce(candidates)
    # polars parses year 0, which no Python date (nor the COPY/SQLite binding of one) can hold.
    return pl.when(parsed.dt.year() >= 1).then(parsed)


def _present(column: ExportColumn) -> pl.Expr:
    """Whether the cell holds a value at all: a number's ₹ sign and spaces alone are no value."""
    name = column.name
    value = _without_rupee_and_spaces(name) if column.kind in ("float", "int") else _trimmed(name)
    return (value.fill_null("") != "").alias(f"__present_{name}")


@dataclass
class BatchResult:
    valid: pl.DataFrame  # typed registry columns of the accepted rows, in file order
    rejects: pl.DataFrame  # REJECT_COLUMNS: one line per failing cell of a rejected row
    rejected_rows: int
    null_warnings: int  # optional values that were present but not coercible (accepted rows only)


class Validator:
    """Validates batches of one export's merged file; the expressions are built once per bucket."""

    def __init__(self, spec: ExportSpec) -> None:
        self.spec = spec
        self.required = frozenset(spec.required_columns)
        self._typed = [coerce_expr(c).alias(c.name) for c in spec.columns]
        self._present = [_present(c) for c in spec.columns if c.kind != "bool"]
        # (column, flag, reason) on required columns; flags on optional ones count as null warnings.
        self._failures: list[tuple[str, pl.Expr, str]] = []
        optional_bad: list[pl.Expr] = []
        for column in spec.columns:
            if column.kind == "bool":
                continue  # every value maps to true or false: nothing to reject
            present = pl.col(f"__present_{column.name}")
            # Present but NULL once typed: not a number/date, or text the database cannot store.
            uncoercible = present & pl.col(column.name).is_null()
            if column.name in self.required:
                self._failures.append((column.name, ~present, REASONS["missing"]))
                self._failures.append((column.name, uncoercible, REASONS[column.kind]))
            else:
                optional_bad.append(uncoercible.cast(pl.Int32))
        flags = [flag for _, flag, _ in self._failures]
        self._rejected = (pl.any_horizontal(flags) if flags else pl.lit(False)).alias("__rejected")
        self._nulls = (pl.sum_horizontal(optional_bad) if optional_bad else pl.lit(0)).alias("__nulls")

    def validate(self, batch: pl.DataFrame, *, file_name: str, line_offset: int) -> BatchResult:
        """`batch` holds the merged file's text columns; `line_offset` is the batch's first row index in
        the file, used for line numbers when the file has no provenance columns."""
        if SOURCE_FILE in batch.columns and SOURCE_LINE in batch.columns:
            where = [
                pl.col(SOURCE_FILE).fill_null(file_name).alias("file"),
                pl.col(SOURCE_LINE).cast(pl.Int64, strict=False).alias("line"),
            ]
        else:
            where = [
                pl.lit(file_name).alias("file"),
                (pl.int_range(pl.len(), dtype=pl.Int64) + line_offset + 2).alias("line"),
            ]
        # Lazy, so that polars evaluates sub-expressions shared between columns and flags only once
        # (an eager select computes e.g. the cleaned number text once per use: ~3× slower).
        frame = (
            batch.lazy()
            .select(*self._typed, *where, *self._present)
            .with_columns(self._rejected, self._nulls)
            .collect()
        )
        rejected_rows = int(frame["__rejected"].sum())
        accepted = frame
        rejects = empty_rejects()
        if rejected_rows:
            accepted = frame.filter(~pl.col("__rejected"))
            bad_rows = frame.filter(pl.col("__rejected"))
            rejects = pl.concat(
                [
                    bad_rows.filter(flag).select(
                        "file", "line", pl.lit(column).alias("column"), pl.lit(reason).alias("reason")
                    )
                    for column, flag, reason in self._failures
                ]
            ).sort("line", maintain_order=True)
        return BatchResult(
            valid=accepted.select(self.spec.column_names),
            rejects=rejects,
            rejected_rows=rejected_rows,
            null_warnings=int(accepted["__nulls"].sum()),
        )

    def key_frame(self, keys: pl.DataFrame) -> pl.DataFrame:
        """The dedupe keys as validation sees them (trimmed, store codes upper-cased)."""
        return keys.select(coerce_expr(self.spec.column_index[k]).alias(k) for k in self.spec.keys)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"file": pl.String(), "line": pl.Int64(), "column": pl.String(), "reason": pl.String()}
    )


# --- per value (pydantic row model, reference rules) -----------------------------------------------------


def _text(value: Any, upper: bool = False) -> Any:
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError(REASONS["text"])
    value = value.strip(WHITESPACE)
    return (value.upper() if upper else value) or None


def _number(value: str) -> float | None:
    cleaned = _WHITESPACE_RE.sub("", value.replace("₹", ""))
    if not cleaned:
        return None
    if not re.match(_NUMBER, cleaned):
        raise ValueError(REASONS["float"])
    return float(cleaned.replace(",", ""))


def _float(value: Any) -> Any:
    return _number(value) if isinstance(value, str) else value


def _int(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        number = _number(value)
    except ValueError:
        raise ValueError(REASONS["int"]) from None
    if number is None:
        return None
    if number != int(number) or not INT_MIN <= number <= INT_MAX:
        raise ValueError(REASONS["int"])
    return int(number)


def _bool(value: Any) -> Any:
    return value.strip(WHITESPACE) == "1" if isinstance(value, str) else (False if value is None else value)


def _date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip(WHITESPACE)
    if not value:
        return None
    for pattern, formats in _DATE_FORMATS:
        match = re.match(pattern, value)
        if match:
            for fmt in formats:
                try:
                    return datetime.strptime(match.group(1), fmt).date()
                except ValueError:
                    continue
    raise ValueError(REASONS["date"])


_PY_TYPES: dict[ColumnKind, type] = {"text": str, "int": int, "float": float, "date": date, "bool": bool}
_PY_COERCERS: dict[ColumnKind, Callable[[Any], Any]] = {
    "text": _text,
    "int": _int,
    "float": _float,
    "date": _date,
    "bool": _bool,
}


@cache
def row_model(spec: ExportSpec) -> type[BaseModel]:
    """A pydantic model of one typed row of `spec`, accepting the raw text values of a merged file."""
    fields: dict[str, Any] = {}
    for column in spec.columns:
        coercer = _PY_COERCERS[column.kind]
        if column.name in UPPER_CASE_COLUMNS:
            coercer = _upper_text
        py_type: Any = _PY_TYPES[column.kind]
        if column.name in spec.required_columns and column.kind != "bool":
            fields[column.name] = (Annotated[py_type, BeforeValidator(coercer)], ...)
        else:
            fields[column.name] = (Annotated[py_type | None, BeforeValidator(coercer)], None)
    name = "".join(part.title() for part in spec.bucket.split("_")) + "Row"
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="ignore", frozen=True), **fields)
    return model


def _upper_text(value: Any) -> Any:
    return _text(value, upper=True)


@dataclass
class RowOutcome:
    row: dict[str, Any] | None  # typed values, None when rejected
    problems: list[tuple[str, str]]  # (column, reason) of a rejected row
    null_warnings: int


def validate_row(spec: ExportSpec, raw: Mapping[str, str | None]) -> RowOutcome:
    """Per-row validation with the pydantic model: the same outcome as `Validator`, one row at a time."""
    model = row_model(spec)
    required = set(spec.required_columns)
    values = {name: raw.get(name) for name in spec.column_names}
    try:
        return RowOutcome(model.model_validate(values).model_dump(), [], 0)
    except ValidationError as exc:
        failed = _failed_fields(exc)
    problems = [(name, _reason(spec, name, values[name])) for name in failed if name in required]
    if problems:
        return RowOutcome(None, problems, 0)
    for name in failed:
        values[name] = None
    return RowOutcome(model.model_validate(values).model_dump(), [], len(failed))


def _failed_fields(exc: ValidationError) -> list[str]:
    return [str(error["loc"][0]) for error in exc.errors() if error["loc"]]


def _reason(spec: ExportSpec, name: str, value: str | None) -> str:
    if value is None or not value.strip(WHITESPACE):
        return REASONS["missing"]
    return REASONS[spec.column_index[name].kind]


def check_rows(spec: ExportSpec, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Typed rows re-validated by the pydantic model (a schema check of the vectorised output)."""
    model = row_model(spec)
    return [model.model_validate(dict(row)).model_dump() for row in rows]


def personal_columns(spec: ExportSpec) -> Sequence[str]:
    return [c.name for c in spec.columns if c.personal]
