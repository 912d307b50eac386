"""CSV files meant for people (rejects, a merged file kept after a failed audit) are opened in spreadsheets,
which run a cell starting with `=`, `+`, `-` or `@` (or a tab/CR before one) as a formula. Such values get a
leading `'`, which spreadsheets show as text. The data stored in the database is never changed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from crm_core.fsutil import atomic_writer
from crm_core.json_logger import EventLogger

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_RE = r"^[=+\-@\t\r]"


def inert_cell(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def inert_row(row: Iterable[Any]) -> list[Any]:
    return [inert_cell(v) for v in row]


def make_inert(path: Path, logger: EventLogger | None = None, **fields: Any) -> bool:
    """Rewrite the CSV at `path` (atomically) with every formula-like value made inert; a failure is an
    event, never an error: the file stays as it was."""
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        frame = frame.with_columns(
            pl.when(pl.col(c).str.contains(_FORMULA_RE)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
            for c in frame.columns
        )
        with atomic_writer(path) as fh:
            frame.write_csv(fh)
    except (OSError, pl.exceptions.PolarsError) as exc:
        if logger is not None:
            logger.event(
                "cleanup", "warn", f"kept file {path.name} not made spreadsheet-safe", exc=exc, **fields
            )
        return False
    return True
