"""The Dockerfile, the compose files and the workflows checked by parsing them (tests/e2e/test_stack.py
starts the stack for real where a container engine is installed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_a_non_root_crm_image_with_chromium() -> None:
    instructions = dockerfile_instructions()
    # The official image by default; the local stand-in only through the build argument.
    assert instructions[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm")
    assert instructions[1] == ("FROM", "${PYTHON_IMAGE}")
    run = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "apt-get install" in run and "chromium" in run and "rm -rf /var/lib/apt/lists/*" in run
    # Playwright's Node.js driver does not start without it (found by starting the stack).
    assert "libatomic1" in run
    # A regular install, not an editable one: the image runs what a wheel holds, migrations included.
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", run) and "pip install -e" not in run
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
    # The final install (of the code; its dependencies come from the layer before) keeps them.
    cleanup = run.rsplit("pip install --no-deps .", 1)[1]
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
    # The worker's health: Prefect's own endpoint, which fails once the worker stops polling the server.
    assert "--with-healthcheck" in worker["command"]
    assert "localhost:8080/health" in " ".join(worker["healthcheck"]["test"])
    # One image for the migration and the worker, built from this repository.
    assert services["migrate"]["image"] == worker["image"] == "tsv-crm:latest"
    assert services["migrate"]["build"] == worker["build"] == "."


def _host_ip(binding: str) -> str:
    """The host address of a `ports:` entry (`[HOST_IP:]HOST_PORT:CONTAINER_PORT`, variables at their
    defaults); "" = every interface."""
    parts = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", binding).rsplit(":", 2)
    return parts[0] if len(parts) == 3 else ""


def test_published_ports_are_on_the_loopback_only() -> None:
    """The product's database is reachable for the operator's SSH tunnel (`ssh -L 5432:127.0.0.1:5432
    server`) and never on a public interface; so is the Prefect UI. No other service publishes a port."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    published = {name: spec["ports"] for name, spec in services.items() if "ports" in spec}
    assert published == {
        "db": ["127.0.0.1:${POSTGRES_HOST_PORT:-5432}:5432"],
        "prefect-server": ["127.0.0.1:${PREFECT_UI_HOST_PORT:-4200}:4200"],
    }
    for compose_file in ROOT.glob("docker-compose*.yml"):
        for name, spec in yaml.safe_load(compose_file.read_text())["services"].items():
            for binding in spec.get("ports", []):
                assert _host_ip(str(binding)) == "127.0.0.1", (compose_file.name, name, binding)
            assert spec.get("network_mode") != "host", (compose_file.name, name)
    # The parser itself: a bare "5432:5432" would publish on every interface.
    assert _host_ip("5432:5432") == "" and _host_ip("${PORT:-5432}:5432") == ""
    assert _host_ip("127.0.0.1:${PORT:-5432}:5432") == "127.0.0.1"


def test_local_override_swaps_only_the_registry_images() -> None:
    """docker-compose.local.yml replaces the registry images by local stand-ins and nothing else that
    matters in production: no ports, secrets or commands of its own."""
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    local = yaml.safe_load((ROOT / "docker-compose.local.yml").read_text())["services"]
    assert set(local) <= set(base)
    for name, spec in local.items():
        assert set(spec) <= {"image", "build", "entrypoint"}, name
        if "build" in spec:
            assert spec["build"] == {
                "context": ".",
                "args": {"PYTHON_IMAGE": "localhost/tsv-standin-python:3.11"},
            }
    assert local["db"]["image"] == local["prefect-db"]["image"] == "localhost/tsv-standin-postgres:15"
    # The stand-ins' Containerfiles build on the Debian base only, never on a registry image.
    for containerfile in (ROOT / "containers" / "local").glob("*.Containerfile"):
        froms = re.findall(r"^FROM\s+(\S+)", containerfile.read_text(), flags=re.M)
        assert froms == ["localhost/debian:bookworm"], containerfile.name


def test_workflows_are_valid_github_workflows() -> None:
    """Both workflow files against GitHub's workflow schema (bundled with check-jsonschema: offline)."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == ["ci.yml", "deploy-prod.yml"]
    checker = str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The checker does fail on a broken workflow (a job without runs-on or steps).
    broken = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", "-"],
        input="on: push\njobs:\n  test:\n    name: no runner\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode != 0


def test_ci_workflow_runs_what_ci_runs_here() -> None:
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = ci["jobs"]["test"]
    assert job["container"].startswith("python:3.11-") and "bookworm" in job["container"]
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    uses = [step.get("uses", "") for step in job["steps"]]
    assert uses[0].startswith("actions/checkout@")
    for command in (
        "bash scripts/setup.sh",
        "ruff check .",
        "ruff format --check .",
        "mypy",
        "bash scripts/test.sh",
    ):
        assert command in runs, command
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert "coverage.xml" in yaml.safe_dump(job["steps"][-1])
    # deploy-prod.yml runs this workflow before deploying.
    assert "workflow_call" in ci[True]


def test_deploy_workflow_uses_secrets_only_and_runs_the_deploy_script() -> None:
    text = (ROOT / ".github" / "workflows" / "deploy-prod.yml").read_text()
    deploy = yaml.safe_load(text)
    triggers = deploy[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "ci"
    env = {k: v for step in job["steps"] for k, v in step.get("env", {}).items()}
    for name in ("DEPLOY_HOST", "DEPLOY_USER", "DEPLOY_SSH_KEY", "DEPLOY_KNOWN_HOSTS"):
        assert f"${{{{ secrets.{name} }}}}" in env.values(), name
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "bash scripts/deploy.sh" in runs and "StrictHostKeyChecking=yes" in runs
    # Secrets reach the shell through the environment only, never pasted into a command line.
    assert "secrets." not in runs


def test_deploy_script_runs_every_step_and_stops_at_the_first_failure() -> None:
    script = (ROOT / "scripts" / "deploy.sh").read_text()
    assert "set -euo pipefail" in script
    body = script.split("set -euo pipefail", 1)[1]  # after the header comment
    order = [
        "git pull --ff-only",
        '"${compose[@]}" build',
        '"${compose[@]}" up -d "${services[@]}"',
        "wait_healthy db prefect-db prefect-server",
        '"${compose[@]}" run --rm -T migrate',
        "prefect --no-prompt deploy --all",
        "up -d --no-deps --force-recreate worker",
        "crm run daily --dry-run",
    ]
    positions = [body.index(step) for step in order]
    assert positions == sorted(positions)
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "scripts" / "deploy.sh")], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_build_context_leaves_out_secrets_and_the_virtualenv() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "var"} <= ignored
    # Nothing the Dockerfile copies is ignored.
    copied = {source for op, arg in dockerfile_instructions() if op == "COPY" for source in arg.split()[:-1]}
    assert not copied & ignored
