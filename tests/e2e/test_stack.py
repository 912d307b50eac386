"""The compose stack for real: images built, `scripts/deploy.sh` run twice (a first deploy that stops at the
smoke run for want of stores, then a full one), the daily deployment run by the worker in its container
against the portal simulator in another, and its rows, PDFs and emails checked.

Podman with podman-compose and the local stand-in images (docker-compose.local.yml). CRM_STACK_COMPOSE
may name another compose command ("docker compose": then the official images) and CRM_STACK_FILES the
compose files; CI runs it with podman only. Skipped only where that container engine is not installed;
`.ci/run` installs podman (scripts/container-runtime.sh). Images stay for the next run (layer cache);
containers, networks and volumes of the test's own compose project are removed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import yaml
from pypdf import PdfReader

from crm_core.db.engine import make_engine, session_factory
from crm_core.demo import seed_demo
from crm_core.periods import daily_report_date
from tests.conftest import free_port
from tests.e2e.prefect_stack import PrefectStack

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = os.environ.get("CRM_STACK_COMPOSE") or str(Path(sys.executable).with_name("podman-compose"))
ENGINE = "podman" if "podman" in COMPOSE else "docker"
LOCAL_IMAGES = ENGINE == "podman"
FILES = os.environ.get("CRM_STACK_FILES") or " ".join(
    [
        "docker-compose.yml",
        *(["docker-compose.local.yml"] if LOCAL_IMAGES else []),
        "docker-compose.simulator.yml",
    ]
)
PROJECT = "tsv-crm-stacktest"

pytestmark = [
    pytest.mark.stack,
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which(ENGINE) is None, reason=f"no container engine ({ENGINE}) on this machine"
    ),
]


@dataclass
class Stack:
    env: dict[str, str]
    db_port: int
    api_url: str
    home: Path

    def compose(
        self, *args: str, timeout: float = 900, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        files = [arg for file in FILES.split() for arg in ("-f", file)]
        return _run([*COMPOSE.split(), *files, *args], self.env, timeout=timeout, check=check)

    def deploy(self) -> subprocess.CompletedProcess[str]:
        return _run(["bash", "scripts/deploy.sh"], self.env, timeout=1500, check=False)

    def container(self, service: str) -> str:
        out = _run(
            [
                ENGINE,
                "ps",
                "-q",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ],
            self.env,
        ).stdout.split()
        assert out, f"no running container of {service}"
        return out[0]

    def anonymous_volumes(self) -> list[str]:
        ids = _run(
            [ENGINE, "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"], self.env
        ).stdout.split()
        if not ids:
            return []
        mounts = _run(
            [ENGINE, "inspect", "--format", "{{range .Mounts}}{{.Type}}={{.Name}} {{end}}", *ids], self.env
        ).stdout.split()
        # Named volumes carry the project's prefix; anonymous ones are bare 64-digit hex names.
        return sorted(
            {
                m.split("=", 1)[1]
                for m in mounts
                if m.startswith("volume=") and re.fullmatch(r"volume=[0-9a-f]{64}", m)
            }
        )

    def volume_path(self, name: str) -> Path:
        out = _run(
            [ENGINE, "volume", "inspect", f"{PROJECT}_{name}", "--format", "{{.Mountpoint}}"], self.env
        )
        return Path(out.stdout.strip())

    @property
    def db_url(self) -> str:
        return f"postgresql+asyncpg://crm:{self.env['POSTGRES_PASSWORD']}@127.0.0.1:{self.db_port}/crm"


def _run(
    cmd: list[str], env: dict[str, str], timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    print(f"[{time.monotonic() - started:6.1f} s] {' '.join(cmd[:6])} -> {result.returncode}")
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _tail(result: subprocess.CompletedProcess[str], chars: int = 6000) -> str:
    return (result.stdout + "\n" + result.stderr)[-chars:]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    ui_port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "CRM_", "DATABASE_URL", "PORTAL_", "SMTP_", "COMPOSE"))
    }
    env |= {
        "COMPOSE": COMPOSE,
        "COMPOSE_FILES": FILES,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "DEPLOY_PULL": "0",  # deploy this checkout as it is
        # URL-safe random passwords: they go into connection URLs.
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "PREFECT_DB_PASSWORD": secrets.token_urlsafe(18),
        # The host's own PostgreSQL (the other tests') holds 5432.
        "POSTGRES_HOST_PORT": str(free_port()),
        "PREFECT_UI_HOST_PORT": str(ui_port),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    running = Stack(env, int(env["POSTGRES_HOST_PORT"]), f"http://127.0.0.1:{ui_port}/api", home)
    if LOCAL_IMAGES:
        _run(["bash", "containers/local/build.sh"], env, timeout=1200)
    running.compose("down", "-v", check=False)  # what a crashed earlier run may have left
    try:
        yield running
    finally:
        for service in ("worker", "prefect-server", "portal-simulator"):
            logs = running.compose("logs", service, check=False)
            (home / f"{service}.log").write_text(logs.stdout + logs.stderr)
        anonymous = running.anonymous_volumes()
        running.compose("down", "-v", timeout=300, check=False)
        # The image's VOLUME /data gives the services without the crm-data volume an anonymous one each.
        if anonymous:
            _run([ENGINE, "volume", "rm", "--force", *anonymous], env, check=False)


def test_deploy_script_brings_up_the_stack_and_the_daily_deployment_runs_in_it(stack: Stack) -> None:
    # First deploy on an empty database: everything comes up, then the smoke run fails (no stores yet),
    # and so does the script, naming the step.
    first = stack.deploy()
    assert first.returncode != 0, _tail(first)
    assert "==> smoke run: crm run daily --dry-run" in first.stdout, _tail(first)
    assert "no stores are flagged for ETL" in _tail(first), _tail(first)

    # The product's PostgreSQL on the host's loopback only (the SSH tunnel's end), with its password.
    asyncio.run(_seed(stack.db_url))
    published = _run([ENGINE, "port", stack.container("db")], stack.env).stdout.split()
    assert published == ["5432/tcp", "->", f"127.0.0.1:{stack.db_port}"], published
    for address in _public_addresses():
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(3)
            sock.connect((address, stack.db_port))

    # The operator has added stores and recipients: deploying again goes through to the smoke run.
    second = stack.deploy()
    assert second.returncode == 0, _tail(second)
    out = second.stdout
    for step in (
        "==> build the images",
        "    db healthy",
        "    prefect-server healthy",
        "==> migrate the database",
        "==> register the deployments",
        "    worker healthy",
        "==> smoke run",
        "==> deployed",
    ):
        assert step in out, _tail(second)
    # Every deployment of prefect.yaml is registered.
    prefect = PrefectStack(
        api_url=stack.api_url, env=stack.env | {"PREFECT_API_URL": stack.api_url}, home=stack.home
    )
    (stack.home / "worker.log").touch()
    request = urllib.request.Request(
        f"{stack.api_url}/deployments/filter", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        registered = {d["name"] for d in json.loads(response.read())}
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} <= registered, registered

    # The worker, in its container, runs the scheduled daily flow (T-1 from the simulator in its own).
    flow_run_id = prefect.run_deployment("dashboard-daily/daily", {})
    run = prefect.wait_for(flow_run_id, timeout=600)
    if run["state_type"] != "COMPLETED":
        logs = stack.compose("logs", "worker", check=False)
        raise AssertionError(f"daily run ended {run['state_type']}:\n{(logs.stdout + logs.stderr)[-6000:]}")

    day = daily_report_date()
    summary, counts, documents = asyncio.run(_stored(stack.db_url, flow_run_id))
    assert summary["overall_status"] == "ok", summary["summary_text"]
    assert summary["report_date"] == day
    for table in ("missed_leads", "undelivered_orders", "repeat_customers", "store_dashboard_summary"):
        assert counts[table] > 0, counts
    data = stack.volume_path("crm-data")
    pdfs = sorted(data.glob(f"reports/{day.year}/daily/*_{day.isoformat()}.pdf"))
    assert [p.name.split("_")[0] for p in pdfs] == ["A668", "A817"], pdfs
    assert sorted(Path(d).name for d in documents) == [p.name for p in pdfs]
    for pdf in pdfs:
        assert len(PdfReader(pdf).pages) >= 1
    emails = sorted((data / "outbox").rglob("*.eml"))
    assert len(emails) == 3, emails  # two store reports and the run summary
    assert any("A668" in e.read_text(errors="replace") for e in emails)


async def _seed(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            assert await seed_demo(session)
    finally:
        await engine.dispose()


async def _stored(db_url: str, run_id: str) -> tuple[dict[str, object], dict[str, int], list[str]]:
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        summary = dict(
            await conn.fetchrow(
                "SELECT overall_status, report_date, summary_text"
                " FROM pipeline_run_summaries WHERE run_id = $1",
                run_id,
            )
            or {}
        )
        counts = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # names from this test
            for table in ("missed_leads", "undelivered_orders", "repeat_customers", "store_dashboard_summary")
        }
        documents = [
            str(r["file_path"])
            for r in await conn.fetch("SELECT file_path FROM documents WHERE doc_type = 'store_daily_pdf'")
        ]
    finally:
        await conn.close()
    return summary, counts, documents


def _public_addresses() -> list[str]:
    """This host's non-loopback IPv4 addresses (where a published port must not answer)."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return [a for a in out if "." in a and not a.startswith("127.")]
