"""`.env.example` documents every setting and every variable the compose files read, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from crm_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def compose_variables() -> set[str]:
    """Every ${NAME}, ${NAME:-default} and ${NAME:?message} in the compose files."""
    names: set[str] = set()
    for compose_file in ROOT.glob("docker-compose*.yml"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_file.read_text()))
    return names


def test_env_example_lists_every_setting_and_compose_variable() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    compose = compose_variables()
    assert {"POSTGRES_PASSWORD", "PREFECT_DB_PASSWORD", "POSTGRES_HOST_PORT"} <= compose
    assert fields - documented() == set()
    assert compose - documented() == set()
    assert documented() - fields - compose == set()
