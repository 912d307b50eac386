"""Hostile portal answers in real Chromium against the simulator: each costs one export or one store's
figures, never the store's other exports, the other stores or the download phase."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.server import SandboxServer
from tests.portal.simulated import DAY, events, rows_of, run

e2e = pytest.mark.e2e
MB = 1024 * 1024


@e2e
@pytest.mark.parametrize("depth", [1500, 3000])
async def test_a_deeply_nested_dashboard_costs_at_most_that_stores_figures(
    sim: SandboxServer, tmp_path: Path, depth: int
) -> None:
    result, logger = await run(sim, tmp_path, ["A668", "A817", "A526"], f"deep_dashboard@A668={depth}")
    assert not result.login_failed
    assert result.stores["A817"].status == result.stores["A526"].status == "ok"
    a668 = result.stores["A668"]
    assert all(e.status == "ok" for e in a668.exports.values()), a668.reason  # its exports still came
    # Read without recursion, the figures are right; a page the renderer cannot draw (it may crash from
    # ~1,500 levels on) loses that store's figures, with the reason.
    if a668.figures is not None:
        expected = data.store_day("A668", DAY).metrics
        assert a668.figures.metrics == {k: expected[k] for k in a668.figures.metrics}
        assert a668.figures.found_metrics > 30 and a668.status == "ok"
    else:
        assert a668.status == "partial" and a668.reason == "dashboard not scraped"
        warned = [e for e in events(logger, "A668") if e.startswith("warn: dashboard not scraped: ")]
        assert warned and ("crashed" in warned[0] or "nested more than 512" in warned[0]), warned
    assert not [e for e in events(logger) if e.startswith("warn: store download failed")]


def assert_no_leftovers(downloads: Path) -> None:
    """Only kept exports in the downloads folder: no temporary of a refused one, every file private."""
    for path in downloads.iterdir():
        assert not path.name.startswith("."), path.name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@e2e
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("big", "export too large: Content-Length "),
        ("big_chunked", "export too large: the body is over the limit of 5242880 bytes"),
        ("gzip_bomb", "export too large: the decompressed body is over the limit of 5242880 bytes"),
    ],
)
async def test_an_export_over_the_size_limit_costs_that_export_only(
    sim: SandboxServer, tmp_path: Path, fault: str, reason: str
) -> None:
    size = 1_500_000_000 if fault == "gzip_bomb" else 20 * MB
    result, logger = await run(
        sim,
        tmp_path,
        ["A668", "A817"],
        f"{fault}@A668/missed_leads={size}",
        settings={"portal_max_export_bytes": 5 * MB},
    )
    a668 = result.stores["A668"]
    skipped = a668.exports["missed_leads"]
    assert skipped.status == "skipped" and skipped.reason is not None and skipped.reason.startswith(reason)
    assert skipped.reason.endswith("(PORTAL_MAX_EXPORT_BYTES)")
    assert a668.exports["undelivered_all"].status == a668.exports["repeat_customers"].status == "ok"
    assert a668.figures is not None and result.stores["A817"].status == "ok"
    assert not (tmp_path / "downloads" / "A668-missed-leads.csv").exists()
    assert_no_leftovers(tmp_path / "downloads")
    assert f"warn: export skipped: {skipped.reason}" in events(logger, "A668", "missed_leads")


@e2e
async def test_a_compressed_or_large_export_within_the_limit_is_kept_whole(
    sim: SandboxServer, tmp_path: Path
) -> None:
    old = os.umask(0o077)  # downloads were forced to 0644 even under a strict umask
    try:
        result, _ = await run(
            sim,
            tmp_path,
            ["A668"],
            f"gzip_bomb@A668/missed_leads={3 * MB}",
            f"big@A668/repeat_customers={4 * MB}",
            settings={"portal_max_export_bytes": 5 * MB},
        )
    finally:
        os.umask(old)
    exports = result.stores["A668"].exports
    assert all(e.status == "ok" for e in exports.values()), result.stores["A668"].reason
    for bucket in ("missed_leads", "repeat_customers"):
        path = exports[bucket].path
        assert path is not None and 2 * MB < path.stat().st_size <= 5 * MB
        assert exports[bucket].rows == rows_of(path) > 1000  # decompressed and whole
    assert_no_leftovers(tmp_path / "downloads")


@e2e
async def test_a_value_over_the_csv_field_limit_costs_that_export_only(
    sim: SandboxServer, tmp_path: Path
) -> None:
    result, _ = await run(sim, tmp_path, ["A668", "A817"], "long_field@A668/missed_leads=200000")
    a668 = result.stores["A668"]
    skipped = a668.exports["missed_leads"]
    assert skipped.status == "skipped"
    rows = len(data.store_day("A668", DAY).missed_leads)
    assert skipped.reason == (
        f'invalid file: row {rows} (line {rows + 1}), column 4 "pickup_created_date": '
        "a value longer than 131072 characters"
    )
    assert a668.figures is not None
    assert a668.exports["undelivered_all"].status == a668.exports["repeat_customers"].status == "ok"
    assert result.stores["A817"].status == "ok" and a668.status == "partial"


@e2e
async def test_a_store_code_that_is_no_code_fails_that_store_and_names_no_path(
    sim: SandboxServer, tmp_path: Path
) -> None:
    """A code written to the database by other means never becomes a path outside CRM_HOME."""
    home = tmp_path / "home"
    result, _ = await run(sim, home, ["A668", "../../X", "A٦٦٨"])
    assert result.stores["A668"].status == "ok"
    for bad in ("../../X", "A٦٦٨"):
        assert result.stores[bad].status == "failed"
        assert f"InvalidStoreCode: store code {bad!r} is not valid" in (result.stores[bad].reason or "")
    assert only_inside(tmp_path, home)


def only_inside(tmp_path: Path, home: Path) -> bool:
    """Nothing was written beside CRM_HOME, and only A668's exports inside it."""
    outside = sorted(p.name for p in tmp_path.iterdir())
    return outside == ["home"] and all(p.name.startswith("A668-") for p in (home / "downloads").iterdir())
