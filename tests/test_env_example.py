"""`.env.example` documents every setting, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from crm_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set()
    assert documented - fields == set()
