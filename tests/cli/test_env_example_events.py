"""`.env.example` suggests the event log file `crm demo` writes (same name, under the same home)."""

from __future__ import annotations

from pathlib import Path

from crm_core.cli.demo import DEMO_EVENTS_FILE

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_event_log_is_the_demo_one() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    suggested = [line.split("=", 1)[1] for line in lines if line.lstrip("# ").startswith("JSON_LOG_FILE=")]
    assert suggested == [f"./var/{DEMO_EVENTS_FILE.as_posix()}"]
