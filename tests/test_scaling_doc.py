"""docs/scaling.md names migrations that exist and does not list the PDF process pool as future work."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "crm_core" / "db" / "migrations" / "versions"


def test_scaling_doc_matches_the_code() -> None:
    text = (ROOT / "docs" / "scaling.md").read_text()
    named = re.findall(r"`(\d{4}_[a-z0-9_]+)`", text)
    assert named, "the doc names the store-code index migration"
    assert [name for name in named if not (VERSIONS / f"{name}.py").exists()] == []
    flat = " ".join(text.split())
    assert "REPORT_WORKERS" in flat and (ROOT / "crm_core" / "reports" / "pool.py").exists()
    assert "its own piece of work (rendering in a process pool)" not in flat
    assert "next steps are the PDF process pool" not in flat
