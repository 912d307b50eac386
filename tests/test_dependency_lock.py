"""requirements.lock pins every dependency pyproject.toml declares (runtime and dev), at a version the
declaration allows, and the environment the tests run in was installed from it."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip())
            assert match, f"requirements.lock: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_the_lock_pins_every_declared_dependency_at_an_allowed_version() -> None:
    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert canonicalize_name(project) not in pins  # the project itself is installed from the checkout
    problems = []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name}: not in requirements.lock (bash scripts/lock-deps.sh)")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}: locked {pins[name]} is outside {requirement.specifier}")
    assert problems == []


def test_the_tested_environment_has_the_locked_versions() -> None:
    pins = locked()
    drift = {
        r.name: (version(r.name), pins[canonicalize_name(r.name)])
        for r in declared()
        if canonicalize_name(r.name) in pins and version(r.name) != pins[canonicalize_name(r.name)]
    }
    assert drift == {}, "installed vs locked; rerun bash scripts/setup.sh"


def test_setup_and_the_image_install_with_the_lock_as_constraints() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "pip install -q -c requirements.lock -e '.[dev]'" in setup
    assert "PIP_CONSTRAINT=requirements.lock pip install ." in (ROOT / "Dockerfile").read_text()
