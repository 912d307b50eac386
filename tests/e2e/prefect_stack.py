"""A real Prefect server and process worker for deployment tests (subprocesses on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class PrefectStack:
    api_url: str
    env: dict[str, str]
    home: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        result = subprocess.run(
            [PREFECT, "--no-prompt", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def start_worker(
        self, pool: str, extra_env: dict[str, str], *, queue: str | None = None, keep_others: bool = False
    ) -> None:
        """A worker with this test's settings; an earlier test's worker is stopped first (unless
        `keep_others`), or it could pick up this test's runs with its own (by now dropped) database.
        `queue` limits it to one work queue of the pool (its log: worker-<queue>.log)."""
        if not keep_others:
            self.stop_workers()
        log = (self.home / (f"worker-{queue}.log" if queue else "worker.log")).open("wb")
        only = ["--work-queue", queue] if queue else []
        self.workers.append(
            subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", pool, "--type", "process", *only],
                cwd=ROOT,
                env=self.env | extra_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def run_deployment(self, name: str, params: dict[str, str]) -> str:
        args = ["deployment", "run", name]
        for key, value in params.items():
            args += ["--param", f"{key}={value}"]
        output = self.cli(*args)
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
        assert match, output
        return match.group(1)

    def flow_run(self, flow_run_id: str) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.api_url}/flow_runs/{flow_run_id}", timeout=10) as response:
            return dict(json.loads(response.read()))

    def wait_for(self, flow_run_id: str, timeout: float = 300) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                run = self.flow_run(flow_run_id)
            except (TimeoutError, urllib.error.URLError):  # a busy server answering late: ask again
                time.sleep(1)
                continue
            if run.get("state_type") in TERMINAL:
                return run
            time.sleep(1)
        worker_log = (self.home / "worker.log").read_text(errors="replace")[-4000:]
        raise AssertionError(
            f"flow run {flow_run_id} did not finish in {timeout}s; worker log:\n{worker_log}"
        )

    def stop_workers(self) -> None:
        for process in self.workers:
            _stop(process)
        self.workers.clear()

    def stop(self) -> None:
        for process in [*reversed(self.workers), *reversed(self.processes)]:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # A worker needs a second SIGTERM to stop.
        for _ in range(2):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prefect_stack(home: Path, server_env: dict[str, str] | None = None) -> Iterator[PrefectStack]:
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "CRM_", "DATABASE_URL", "PORTAL_", "SMTP_"))
    }
    env |= {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    stack = PrefectStack(api_url=api_url, env=env, home=home)
    log = (home / "server.log").open("wb")
    stack.processes.append(
        subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env | (server_env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or stack.processes[0].poll() is not None:
                raise AssertionError(
                    "Prefect server did not start:\n" + (home / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield stack
    finally:
        stack.stop()
