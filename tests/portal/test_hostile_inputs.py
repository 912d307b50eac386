"""Hostile portal answers in real Chromium against the simulator: each costs one export or one store's
figures, never the store's other exports, the other stores or the download phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.server import SandboxServer
from tests.portal.simulated import DAY, events, run

e2e = pytest.mark.e2e
MB = 1024 * 1024


def only_the_kept_files(downloads: Path) -> list[str]:
    """Every file in the downloads folder (no temporary left behind)."""
    return sorted(p.name for p in downloads.iterdir())


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
