"""The first-deploy steps of docs/operations.md and the README, followed exactly, give a database that
`crm db check` passes, and the stores exist before the step that re-runs the deploy's smoke run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

Crm = Callable[..., tuple[int, str]]  # the `crm` fixture of conftest.py
ROOT = Path(__file__).resolve().parents[2]
PREFIX = "docker compose exec worker crm "


def first_deploy(doc: str) -> str:
    text = (ROOT / doc).read_text()
    if doc == "README.md":
        intro, block = text[text.index("Then, once: add stores") :].split("```", 2)[:2]
        return intro + block
    return text[text.index("## First deploy, step by step") :].split("\n## ", 1)[0]


@pytest.mark.parametrize("doc", ["docs/operations.md", "README.md"])
def test_first_deploy_steps_pass_db_check(crm: Crm, empty_db_env: dict[str, str], doc: str) -> None:
    section = first_deploy(doc)
    commands = [
        line.strip()[len(PREFIX) :] for line in section.splitlines() if line.strip().startswith(PREFIX)
    ]
    assert commands[-1] == "db check" or "db check" in commands, commands
    assert crm(empty_db_env, "db", "upgrade")[0] == 0  # the deploy's migration step
    for command in commands:
        if command == "status":
            continue  # needs the Prefect server; not part of the database's readiness
        code, output = crm(empty_db_env, *shlex.split(command))
        assert code == 0, (command, output)
    # The smoke run needs stores: adding them comes before the step that runs the deploy again.
    stores_at = section.index("crm stores add")
    login_at = section.index("crm portal login")
    redeploy = [m.start() for m in re.finditer(r"scripts/deploy\.sh", section)]
    assert stores_at < login_at and any(at > stores_at for at in redeploy), section
