"""Fixtures for the merge tests: per-store files written as raw bytes into a temporary downloads folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crm_core.json_logger import EventLogger


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """Write a per-store input file byte for byte (BOM, CRLF and encoding under the test's control)."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def write(name: str, content: bytes) -> Path:
        path = downloads / name
        path.write_bytes(content)
        return path

    return write


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "merged"


@pytest.fixture
def event_logger() -> EventLogger:
    """Keeps events in memory only (no stdout), so tests can inspect what was logged."""
    return EventLogger(run_id="test-run", pipeline="dashboard_daily", stream=None, events=[])
