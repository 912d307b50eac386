"""The automations declared in prefect.yaml, for real: a Prefect server and process workers, `prefect deploy`
of the project's deployments (the daily grace period shortened to seconds), a failing and a missed daily
run, the alert flow run by each automation, and its email received by aiosmtpd."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port
from tests.e2e.prefect_stack import ROOT, PrefectStack, prefect_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
SECRET = "portal-pass-Zq81"  # must never reach an alert
GRACE_S = 45


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    # A run not started 1 s after it was due is Late (default 15 s): the missed-run test waits less.
    server_env = {
        "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "1",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "1",
    }
    with prefect_stack(tmp_path_factory.mktemp("prefect-alerts"), server_env) as running:
        yield running


def deploy_with_grace(stack: PrefectStack, tmp_path: Path, grace_s: int) -> dict[str, Any]:
    """`prefect deploy --all` from a copy of prefect.yaml whose daily grace period is `grace_s`; returns
    the alerts deployment's triggers as declared."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    alerts = next(d for d in config["deployments"] if d["name"] == "alerts")
    triggers = {t["name"]: t for t in alerts["triggers"]}
    triggers["daily-run-not-completed"]["within"] = grace_s
    copy = tmp_path / "prefect.yaml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.cli("work-pool", "create", "crm-process", "--type", "process", "--overwrite")
    deployed = stack.cli("deploy", "--all", "--prefect-file", str(copy))
    assert "pipeline-alert/alerts" in deployed, deployed
    return triggers


def api(stack: PrefectStack, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{stack.api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def alert_runs(stack: PrefectStack) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = api(
        stack, "/flow_runs/filter", {"flows": {"name": {"any_": ["pipeline-alert"]}}}
    )
    return runs


def runs_about(stack: PrefectStack, about: str, kind: str) -> list[dict[str, Any]]:
    return [
        run
        for run in alert_runs(stack)
        if run["parameters"].get("flow_run_id", "").endswith(about) and run["parameters"]["kind"] == kind
    ]


def wait_for_alert_run(stack: PrefectStack, about: str, kind: str, timeout: float = 120) -> dict[str, Any]:
    """The alert flow run an automation created for flow run `about`, once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs_about(stack, about, kind):
            return stack.wait_for(run["id"], timeout=max(deadline - time.monotonic(), 1))
        time.sleep(1)
    server_log = (stack.home / "server.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"no alert flow run for {about} within {timeout}s; server log:\n{server_log}")


def wait_for_messages(handler: Any, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(handler.messages) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return list(handler.messages)


def body_of(message: dict[str, Any]) -> str:
    return str(message["message"].get_body(("plain",)).get_content())


async def test_failed_and_missed_daily_runs_fire_the_automations_and_email_the_alert(
    stack: PrefectStack, pg_url: str, tmp_path: Path, smtp_server: tuple[int, Any]
) -> None:
    port, handler = smtp_server
    # Long enough for the failing run to start and fail (a few seconds of process start), short enough
    # to wait for.
    triggers = deploy_with_grace(stack, tmp_path, grace_s=GRACE_S)
    automations = api(stack, "/automations/filter", {})
    by_name = {a["name"]: a for a in automations}
    assert {"pipeline-run-failed", "daily-run-not-completed"} <= set(by_name), sorted(by_name)
    assert by_name["daily-run-not-completed"]["trigger"]["posture"] == "Proactive"
    assert by_name["daily-run-not-completed"]["trigger"]["within"] == GRACE_S
    assert set(by_name["daily-run-not-completed"]["trigger"]["after"]) == {
        "prefect.flow-run.Pending",
        "prefect.flow-run.Late",
    }
    assert set(by_name["pipeline-run-failed"]["trigger"]["expect"]) == set(
        triggers["pipeline-run-failed"]["expect"]
    )

    common = {
        "CRM_HOME": str(tmp_path / "home"),
        "CRM_TODAY": "2025-11-20",
        "DATABASE_URL": pg_url,
        "ALERT_EMAIL_TO": "ops@example.com",
        "SMTP_SECURITY": "none",
        "SMTP_HOST": "127.0.0.1",
        "PORTAL_PASSWORD": SECRET,
    }
    # The alerts queue's worker reaches the SMTP server; the pipeline's worker does not (SMTP was down
    # when the run failed), so the flow's own failure hook cannot deliver and the automation's alert must.
    stack.start_worker("crm-process", common | {"SMTP_PORT": str(port)}, queue="alerts")
    stack.start_worker(
        "crm-process", common | {"SMTP_PORT": str(free_port())}, queue="default", keep_others=True
    )

    # 1. A failing daily run (a report date after T-1 is refused inside the run).
    failed_id = stack.run_deployment("dashboard-daily/daily", {"report_date": "2025-11-25"})
    assert stack.wait_for(failed_id, timeout=180)["state_type"] == "FAILED"
    alert = wait_for_alert_run(stack, failed_id, "failed")
    worker_log = (stack.home / "worker-alerts.log").read_text(errors="replace")[-3000:]
    assert alert["state_type"] == "COMPLETED", worker_log
    messages = wait_for_messages(handler, 1)
    assert len(messages) == 1, worker_log
    assert messages[0]["rcpt_tos"] == ["ops@example.com"]
    assert messages[0]["message"]["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run Failed"
    body = body_of(messages[0])
    assert failed_id in body and "2025-11-25" in body
    assert SECRET not in body and SECRET not in worker_log

    # 2. A missed daily run: no worker serves the pipeline's queue, so the run goes Late and never
    # completes; the grace period later the proactive automation runs the alert flow.
    stack.stop_workers()
    stack.start_worker("crm-process", common | {"SMTP_PORT": str(port)}, queue="alerts")
    missed_id = stack.run_deployment("dashboard-daily/daily", {})
    alert = wait_for_alert_run(stack, missed_id, "missed", timeout=GRACE_S + 90)
    worker_log = (stack.home / "worker-alerts.log").read_text(errors="replace")[-3000:]
    assert alert["state_type"] == "COMPLETED", worker_log
    messages = wait_for_messages(handler, 2)
    assert len(messages) == 2, worker_log
    missed = messages[1]
    assert missed["message"]["Subject"] == "[TSV Pipeline ALERT] dashboard_daily run not completed"
    body = body_of(missed)
    assert missed_id in body and "state is Late" in body
    assert stack.flow_run(missed_id)["state_name"] == "Late"

    # The failed run's own grace period ended long ago: its Failed event counted as the end the
    # proactive trigger waited for, so it got no missed-run alert on top of the failure alert.
    assert runs_about(stack, failed_id, "missed") == []
    assert len(handler.messages) == 2
