"""No Docker engine here: the Dockerfile and the compose file are checked by parsing them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_a_non_root_crm_image_with_chromium() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    run = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "apt-get install" in run and "chromium" in run and "rm -rf /var/lib/apt/lists/*" in run
    # A regular install, not an editable one: the image runs what a wheel holds, migrations included.
    assert re.search(r"pip install \.(\s|$)", run) and "pip install -e" not in run
    env = " ".join(arg for op, arg in instructions if op == "ENV")
    assert "CHROMIUM_PATH=/usr/bin/chromium" in env and "CRM_HOME=/data" in env
    copied = {arg.split()[0] for op, arg in instructions if op == "COPY"}
    for needed in ("crm_core", "tasks", "flows"):
        assert needed in copied
        assert (ROOT / needed).is_dir()
    # The migrations come inside crm_core, not as a separate directory.
    assert not any("alembic" in arg for op, arg in instructions if op == "COPY")
    assert (ROOT / "crm_core" / "db" / "migrations" / "env.py").is_file()
    # `prefect deploy` in /app needs the deployment file and the flows' entrypoint after the install.
    assert "prefect.yaml" in " ".join(arg for op, arg in instructions if op == "COPY")
    cleanup = run.split("pip install .", 1)[1]
    assert "flows" not in cleanup and "prefect.yaml" not in cleanup
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] != "root"
    assert ("ENTRYPOINT", '["crm"]') in instructions
    # Every file named by COPY exists in the repository.
    for op, arg in instructions:
        if op == "COPY":
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_compose_stack_is_complete_and_keeps_secrets_out() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"db", "prefect-db", "prefect-server", "migrate", "worker"}
    assert services["db"]["image"] == "postgres:16"
    assert re.fullmatch(r"prefecthq/prefect:3\.8\.8-python3\.11", services["prefect-server"]["image"])
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    worker = services["worker"]
    assert worker["command"][:2] == ["worker", "start"] and "--pool" in worker["command"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker["env_file"] == [{"path": ".env", "required": False}]
    for name in ("db", "prefect-db", "prefect-server"):
        assert "healthcheck" in services[name]
    # Passwords only ever come from the environment.
    for match in re.finditer(r"PASSWORD: (.+)", text):
        assert match.group(1).startswith("${"), match.group(0)
    assert "postgresql+asyncpg://crm:${POSTGRES_PASSWORD" in text
    # The operator's .env (from .env.example: CRM_RUN_ENV=dev) must not turn the stack into dev.
    assert worker["environment"]["CRM_RUN_ENV"] == "prod" and "$" not in worker["environment"]["CRM_RUN_ENV"]
    # Chromium in the worker: an init process reaps it, and /dev/shm is larger than Docker's 64 MB.
    assert worker["init"] is True and worker["shm_size"] == "1gb"


def test_build_context_leaves_out_secrets_and_the_virtualenv() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "var"} <= ignored
    # Nothing the Dockerfile copies is ignored.
    copied = {source for op, arg in dockerfile_instructions() if op == "COPY" for source in arg.split()[:-1]}
    assert not copied & ignored
