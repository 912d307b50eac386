"""A corpus of malformed, real-looking per-store exports (tests/corpus/exports) and the outcome expected of
each (expected.toml there): the rows the merge reads, what validation accepts, rejects (line and column)
and sets NULL, and the one warning naming the file. The download check sees the same files: it accepts a
file or raises `InvalidExport`, nothing else."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from crm_core.exports import get_export
from crm_core.ingest.merge import SOURCE_FILE, merge_bucket
from crm_core.ingest.validate import Validator
from crm_core.portal.files import InvalidExport, check_csv

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "exports"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
DAY = date(2025, 11, 19)


def test_the_corpus_is_complete() -> None:
    files = sorted(p.name for p in CORPUS.glob("*.csv"))
    assert len(files) >= 30
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_export_reads_as_expected(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    spec = get_export(expected["bucket"])
    source = CORPUS / name
    before = source.read_bytes()
    result = merge_bucket(spec, {"A668": source}, tmp_path, DAY)
    assert source.read_bytes() == before  # the user's file is never changed

    assert result.merged_rows == expected["rows"]
    if "warning" in expected:
        assert result.warnings == [f"{name}: {expected['warning']}"]
    else:
        assert result.warnings == []

    accepted, null_warnings, rejects = 0, 0, []
    if result.merged_rows:
        assert result.merged_path is not None
        merged = pl.read_csv(result.merged_path, infer_schema=False)
        assert set(merged[SOURCE_FILE].to_list()) == {name}
        outcome = Validator(spec).validate(merged, file_name=result.merged_path.name, line_offset=0)
        accepted, null_warnings = outcome.valid.height, outcome.null_warnings
        for reject in outcome.rejects.to_dicts():
            assert reject["file"] == name  # the per-store file the operator opens, at that line
            rejects.append(f"{reject['line']}:{reject['column']}")
    assert (accepted, null_warnings, rejects) == (
        expected["accepted"],
        expected["null_warnings"],
        expected["rejects"],
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_download_check_accepts_or_refuses_each_export(name: str) -> None:
    spec = get_export(EXPECTED[name]["bucket"])
    try:
        checked = check_csv((CORPUS / name).read_bytes(), spec)
    except InvalidExport as exc:
        assert exc.reason
        return
    assert checked.header and checked.rows >= 0
