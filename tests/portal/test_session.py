"""Login, saved session and start-up in real Chromium against the simulator on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_core.json_logger import EventLogger
from crm_core.portal.sandbox.server import SandboxServer
from crm_core.portal.session import PortalUnavailable, interactive_login, load_storage_state
from tasks.common import is_transient
from tests.portal.simulated import events, make_settings, run

e2e = pytest.mark.e2e


@e2e
async def test_storage_state_reuse_skips_login(sim: SandboxServer, tmp_path: Path) -> None:
    first, _ = await run(sim, tmp_path, ["A668"])
    logins = sim.state.stats["login_ok"]
    second, logger = await run(sim, tmp_path, ["A668"])
    assert first.logged_in and not second.logged_in
    assert sim.state.stats["login_ok"] == logins  # the second run never submitted the form
    assert "info: saved portal session reused (no login)" in events(logger)
    assert second.stores["A668"].status == "ok"


@e2e
async def test_wrong_password_aborts_with_artifacts(sim: SandboxServer, tmp_path: Path) -> None:
    secret = "Wr0ng-Secret-xyz"
    result, logger = await run(sim, tmp_path, ["A668", "A817"], settings={"portal_password": secret})
    # The portal's own words, so the operator knows it was the password and not an outage.
    reason = 'site reports login error: "Invalid username or password"'
    assert result.login_failed and result.login_reason == reason
    assert (result.status, result.detail) == ("error", f"portal login failed: {reason}")
    assert result.files == {} and list((tmp_path / "downloads").glob("*.csv")) == []
    assert {s.status for s in result.stores.values()} <= {"failed"}
    suffixes = sorted(p.suffix for p in result.artifacts)
    assert suffixes == [".html", ".png"] and all(
        p.exists() and p.stat().st_size > 0 for p in result.artifacts
    )
    # The page may show customer data: private whatever the umask (it was forced to 0644).
    assert {p.stat().st_mode & 0o777 for p in result.artifacts} == {0o600}
    assert (tmp_path / "artifacts").stat().st_mode & 0o777 == 0o700
    html = next(p for p in result.artifacts if p.suffix == ".html").read_text()
    assert "Invalid username or password" in html and secret not in html
    assert not (tmp_path / "browser" / "storage_state.json").exists()
    assert any(e.startswith("error: portal login failed") for e in events(logger))
    assert all(secret not in json.dumps(e) for e in logger.events)


@e2e
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("login_error", 'site reports login error: "Invalid username or password"'),
        ("otp", 'one-time password or other step at /home/otp ("OTP")'),
    ],
)
async def test_login_faults_abort(sim: SandboxServer, tmp_path: Path, fault: str, reason: str) -> None:
    result, _ = await run(sim, tmp_path, ["A668"], fault)
    assert result.login_failed and reason in (result.login_reason or "")
    assert result.stores["A668"].reason == "not attempted: portal login failed"
    assert len(result.artifacts) == 2


@e2e
async def test_an_overloaded_portal_at_start_up_is_a_transient_outage(
    sim: SandboxServer, tmp_path: Path
) -> None:
    """A 503 home page is neither "session reused" nor a login failure: the task retries it later."""
    with pytest.raises(PortalUnavailable, match="HTTP 503") as info:
        await run(sim, tmp_path, ["A668"], "status/home=503", nav_attempts=1)
    assert is_transient(info.value)


@e2e
async def test_login_bootstrap_saves_state_then_sees_it_valid(sim: SandboxServer, tmp_path: Path) -> None:
    settings = make_settings(sim, tmp_path)
    logger = EventLogger("bootstrap", "portal_login", stream=None, events=[])
    logins = sim.state.stats["login_ok"]
    assert await interactive_login(settings, logger, headed=False)
    state = settings.storage_state_path
    assert state.stat().st_mode & 0o777 == 0o600 and sim.state.stats["login_ok"] == logins + 1
    assert await interactive_login(settings, logger, headed=False)
    assert sim.state.stats["login_ok"] == logins + 1  # the saved session was valid: no second login


def test_a_saved_session_is_tightened_and_a_broken_one_ignored(tmp_path: Path) -> None:
    logger = EventLogger("state", "dashboard_daily", stream=None, events=[])
    path = tmp_path / "storage_state.json"
    assert load_storage_state(path, logger) is None  # none yet: log in
    cookie = {"name": "sid", "value": "x", "domain": "127.0.0.1", "path": "/", "expires": None}
    path.write_text(json.dumps({"cookies": [cookie, "junk"]}))
    path.chmod(0o644)
    state = load_storage_state(path, logger)
    assert state == {"cookies": [{k: v for k, v in cookie.items() if v is not None}], "origins": []}
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("{not json")
    assert load_storage_state(path, logger) is None
    assert events(logger) == ["warn: storage state unreadable; logging in afresh"]


@e2e
async def test_headless_login_takes_the_one_time_code_from_the_terminal(
    sim: SandboxServer, tmp_path: Path
) -> None:
    """On a server (the container) there is no window: the portal's OTP page is answered in the terminal."""
    from crm_core.portal.sandbox.app import DEMO_OTP

    sim.state.faults.add("otp")
    settings = make_settings(sim, tmp_path)
    logger = EventLogger("bootstrap", "portal_login", stream=None, events=[])
    prompts: list[str] = []

    async def terminal(prompt: str) -> str:
        prompts.append(prompt)
        return f" {DEMO_OTP}\n"

    assert await interactive_login(settings, logger, headed=False, ask=terminal)
    assert prompts == ["One-time code sent by the portal: "]
    assert settings.storage_state_path.stat().st_mode & 0o777 == 0o600

    # A wrong code: no session saved, and the command says so.
    settings.storage_state_path.unlink()
    sim.state.faults.add("otp")

    async def wrong(prompt: str) -> str:
        return "000000"

    assert not await interactive_login(settings, logger, headed=False, ask=wrong)
    assert not settings.storage_state_path.exists()
