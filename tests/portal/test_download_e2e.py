"""The downloader in real Chromium against the simulator on 127.0.0.1 (DOMAIN A4, B2, B11.4).

One simulator serves the whole module; each test gets its own CRM_HOME (so its own storage state) and
its own faults.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crm_core.json_logger import EventLogger
from crm_core.portal.client import DownloadResult, PortalConfig, Timeouts, download_all
from crm_core.portal.sandbox import data
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from crm_core.settings import Settings

pytestmark = pytest.mark.e2e
DAY = date(2025, 11, 19)
BUCKETS = ("missed_leads", "undelivered_all", "repeat_customers")


@pytest.fixture(scope="module")
def sim() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_sim(sim: SandboxServer) -> Iterator[None]:
    sim.state.faults.clear()
    sim.state.expire("all")
    yield
    sim.state.faults.clear()


def make_settings(sim: SandboxServer, home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "crm_home": home,
        "portal_base_url": sim.portal_origin,
        "portal_tms_url": sim.tms_origin,
        "portal_username": DEMO_USERNAME,
        "portal_password": DEMO_PASSWORD,
        "chromium_path": "/usr/bin/chromium",
        "database_url": f"sqlite+aiosqlite:///{home / 'crm.db'}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def run(
    sim: SandboxServer, home: Path, stores: list[str], *faults: str, **config: Any
) -> tuple[DownloadResult, EventLogger]:
    for spec in faults:
        sim.state.faults.add(spec)
    settings = make_settings(sim, home, **config.pop("settings", {}))
    portal = PortalConfig.from_settings(settings, backoff_s=0.05, max_backoff_s=0.1, **config)
    logger = EventLogger("test-run", "dashboard_daily", stream=None, events=[])
    return await download_all(settings, stores, DAY, logger, config=portal), logger


def events(logger: EventLogger, store: str | None = None, bucket: str | None = None) -> list[str]:
    return [
        f"{e['status']}: {e['message']}"
        for e in logger.events
        if (store is None or e["store_code"] == store) and (bucket is None or e["bucket"] == bucket)
    ]


def rows_of(path: Path) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig", "replace")))) - 1


async def test_happy_path_three_stores(sim: SandboxServer, tmp_path: Path) -> None:
    result, logger = await run(sim, tmp_path, ["a817", "A668", "A526"])
    assert not result.login_failed and result.logged_in
    assert sorted(result.stores) == ["A526", "A668", "A817"]
    assert all(s.status == "ok" and s.reason is None for s in result.stores.values())
    for code in result.stores:
        day = data.store_day(code, DAY)
        expected = {"missed_leads": len(day.missed_leads), "undelivered_all": len(day.undelivered),
                    "repeat_customers": len(day.repeat_customers)}  # fmt: skip
        for bucket in BUCKETS:
            path, rows = result.files[bucket][code]
            assert path == tmp_path / "downloads" / path.name and path.name.startswith(f"{code}-")
            assert rows == expected[bucket] == rows_of(path)
        figures = result.figures[code]
        assert figures.dashboard_date == DAY and figures.warnings == []
        assert figures.metrics == {k: day.metrics[k] for k in figures.metrics}
        assert figures.gstin == data.gstin(code)
    state_file = tmp_path / "browser" / "storage_state.json"
    assert state_file.stat().st_mode & 0o777 == 0o600
    assert DEMO_PASSWORD not in state_file.read_text()
    assert not [e for e in events(logger) if e.startswith(("warn", "error"))]
    assert len([e for e in events(logger) if e == "ok: export downloaded"]) == 9


async def test_storage_state_reuse_skips_login(sim: SandboxServer, tmp_path: Path) -> None:
    first, _ = await run(sim, tmp_path, ["A668"])
    logins = sim.state.stats["login_ok"]
    second, logger = await run(sim, tmp_path, ["A668"])
    assert first.logged_in and not second.logged_in
    assert sim.state.stats["login_ok"] == logins  # the second run never submitted the form
    assert "info: saved portal session reused (no login)" in events(logger)
    assert second.stores["A668"].status == "ok"


async def test_wrong_password_aborts_with_artifacts(sim: SandboxServer, tmp_path: Path) -> None:
    secret = "Wr0ng-Secret-xyz"
    result, logger = await run(sim, tmp_path, ["A668", "A817"], settings={"portal_password": secret})
    assert result.login_failed and result.login_reason == "site reports login error"
    assert result.files == {} and list((tmp_path / "downloads").glob("*.csv")) == []
    assert {s.status for s in result.stores.values()} <= {"failed"}
    suffixes = sorted(p.suffix for p in result.artifacts)
    assert suffixes == [".html", ".png"] and all(
        p.exists() and p.stat().st_size > 0 for p in result.artifacts
    )
    html = next(p for p in result.artifacts if p.suffix == ".html").read_text()
    assert "Invalid username or password" in html and secret not in html
    assert not (tmp_path / "browser" / "storage_state.json").exists()
    assert any(e.startswith("error: portal login failed") for e in events(logger))
    assert all(secret not in json.dumps(e) for e in logger.events)


@pytest.mark.parametrize(
    ("fault", "reason"), [("login_error", "site reports login error"), ("otp", "one-time password")]
)
async def test_login_faults_abort(sim: SandboxServer, tmp_path: Path, fault: str, reason: str) -> None:
    result, _ = await run(sim, tmp_path, ["A668"], fault)
    assert result.login_failed and reason in (result.login_reason or "")
    assert result.stores["A668"].reason == "not attempted: portal login failed"
    assert len(result.artifacts) == 2


async def test_session_expiry_mid_run_refreshes_and_completes(sim: SandboxServer, tmp_path: Path) -> None:
    # TMS session dies at A668's repeat export; portal session too at A817's missed leads.
    result, logger = await run(
        sim,
        tmp_path,
        ["A526", "A668", "A817"],
        "expire@A668/repeat_customers#1",
        "expire@A817/missed_leads=all#1",
        settings={"portal_concurrency": 1},
    )
    assert all(s.status == "ok" for s in result.stores.values()), {
        c: s.reason for c, s in result.stores.items()
    }
    assert "warn: login page instead of CSV; refreshing session" in events(logger, "A668", "repeat_customers")
    assert "warn: login page instead of CSV; refreshing session" in events(logger, "A817", "missed_leads")
    assert events(logger).count("ok: logged in to the portal") == 2  # only the full expiry needed a login
    assert sim.state.stats["tms_handoff"] >= 3


async def test_export_faults_each_have_their_outcome(sim: SandboxServer, tmp_path: Path) -> None:
    faults = {
        # (store, bucket): fault spec, expected outcome
        ("A101", "missed_leads"): ("status@A101/missed_leads=401#1", "ok"),
        ("A101", "undelivered_all"): ("status@A101/undelivered_all=403#1", "ok"),
        ("A101", "repeat_customers"): (
            "status@A101/repeat_customers=403",
            "retry after session refresh failed",
        ),
        ("A102", "missed_leads"): ("status@A102/missed_leads=429#2", "ok"),
        ("A102", "undelivered_all"): ("status@A102/undelivered_all=429", "still rate limited"),
        ("A102", "repeat_customers"): ("empty@A102/repeat_customers", "empty body"),
        ("A103", "missed_leads"): ("logged_out@A103/missed_leads#1", "ok"),
        ("A103", "undelivered_all"): (
            "logged_out@A103/undelivered_all",
            "retry after session refresh failed",
        ),
        ("A103", "repeat_customers"): ("status@A103/repeat_customers=500", "HTTP 500"),
        ("A104", "missed_leads"): ("truncated@A104/missed_leads#1", "ok"),
        ("A104", "undelivered_all"): ("truncated@A104/undelivered_all", "truncated"),
        ("A104", "repeat_customers"): ("header_only@A104/repeat_customers", "ok"),
        ("A105", "missed_leads"): ("non_utf8@A105/missed_leads", "ok"),
        ("A105", "undelivered_all"): ("extra_column@A105/undelivered_all", "ok"),
        ("A105", "repeat_customers"): ("evil_filename@A105/repeat_customers", "ok"),
        ("A106", "missed_leads"): ("bom@A106/missed_leads", "ok"),
        ("A106", "undelivered_all"): ("order_id@A106/undelivered_all", "ok"),
        ("A106", "repeat_customers"): ("no_newline@A106/repeat_customers", "ok"),
        ("A107", "missed_leads"): ("duplicate_keys@A107/missed_leads", "ok"),
        ("A107", "undelivered_all"): ("bad_values@A107/undelivered_all", "ok"),
        ("A107", "repeat_customers"): ("slow@A107/repeat_customers=0.5", "ok"),
        ("A108", "undelivered_all"): ("dates@A108/undelivered_all=slash", "ok"),
    }
    stores = sorted({store for store, _ in faults})
    result, logger = await run(sim, tmp_path, stores, *(spec for spec, _ in faults.values()))
    assert not result.login_failed
    for (store, bucket), (spec, outcome) in faults.items():
        export = result.stores[store].exports[bucket]
        if outcome == "ok":
            assert export.status == "ok", (spec, export.reason, events(logger, store, bucket))
            assert export.path is not None and export.rows == rows_of(export.path), spec
        else:
            assert export.status == "skipped" and outcome in (export.reason or ""), (spec, export.reason)
            assert not (tmp_path / "downloads" / f"{store}-{bucket.replace('_', '-')}.csv").exists()
            assert any(outcome in e for e in events(logger, store, bucket)), spec
    # Every fault is visible in the events with its store and export named.
    for (store, bucket), (spec, _outcome) in faults.items():
        if spec.startswith(
            ("header_only", "bom", "order_id", "no_newline", "duplicate", "bad_values", "slow", "dates")
        ):
            continue  # valid variants: nothing to warn about
        noted = [e for e in events(logger, store, bucket) if e != "ok: export downloaded"]
        assert noted, spec
    assert result.stores["A104"].exports["repeat_customers"].rows == 0
    assert (
        result.stores["A107"].exports["missed_leads"].rows
        == len(data.store_day("A107", DAY).missed_leads) + 3
    )
    assert "warn: server-suggested file name ignored (path characters)" in events(
        logger, "A105", "repeat_customers"
    )
    escaped = [tmp_path.parent / "repeat_A105_20251119.csv", Path("/tmp/repeat_A105_20251119.csv")]
    assert not any(p.exists() for p in escaped)
    assert "warn: export has bytes that are not UTF-8 (kept; read leniently)" in events(
        logger, "A105", "missed_leads"
    )
    assert {s.status for c, s in result.stores.items() if c in ("A101", "A102", "A103", "A104")} == {
        "partial"
    }
    assert result.stores["A108"].status == "ok"


async def test_tracker_same_tab_and_dashboard_faults(sim: SandboxServer, tmp_path: Path) -> None:
    result, logger = await run(
        sim,
        tmp_path,
        ["A201", "A202", "A203", "A204", "A205"],
        "same_tab",
        "missing_section@A201=Delivery",
        "bad_date@A202",
        "na_cells@A203",
        "status@A204/dashboard=429",
        "status@A205/dashboard=429#1",
    )
    assert "info: TMS session established" in events(logger)
    assert next(e for e in logger.events if e["message"] == "TMS session established")["extras"] == {
        "new_tab": False
    }
    assert all(
        len(s.exports) == 3 and all(e.status == "ok" for e in s.exports.values())
        for s in result.stores.values()
    )
    assert "warn: dashboard section missing: Delivery" in events(logger, "A201")
    assert result.figures["A201"].metrics["delivery_total_orders"] is None
    assert result.figures["A202"].dashboard_date is None
    assert any("dashboard date unparseable" in e for e in events(logger, "A202"))
    assert result.figures["A203"].metrics["target_revenue"] is None
    assert "A204" not in result.figures and result.stores["A204"].status == "partial"
    assert any(e.startswith("warn: dashboard still rate limited (HTTP 429)") for e in events(logger, "A204"))
    # A4: a 429 is backed off and retried; once is enough for A205.
    assert result.figures["A205"].metrics["mtd_revenue"] is not None
    assert any(
        e.startswith("info: dashboard rate limited (HTTP 429); retrying") for e in events(logger, "A205")
    )


async def test_slow_export_beyond_timeout_is_skipped(sim: SandboxServer, tmp_path: Path) -> None:
    result, logger = await run(
        sim,
        tmp_path,
        ["A301"],
        "slow@A301/repeat_customers=3",
        timeouts=Timeouts(nav=1_500, download_controls=1_500),
    )
    export = result.stores["A301"].exports["repeat_customers"]
    assert export.status == "skipped" and export.reason == "request failed"
    assert result.stores["A301"].exports["missed_leads"].status == "ok"
    assert any(
        "Timeout" in json.dumps(e["extras"]) for e in logger.events if e["bucket"] == "repeat_customers"
    )


def test_cli_fetch_downloads_and_stores_figures(
    sim: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_core.cli import app

    home = tmp_path / "home"
    env = {"CRM_HOME": str(home), "PORTAL_BASE_URL": sim.portal_origin, "PORTAL_TMS_URL": sim.tms_origin}
    env |= {
        "PORTAL_USERNAME": DEMO_USERNAME,
        "PORTAL_PASSWORD": DEMO_PASSWORD,
        "CHROMIUM_PATH": "/usr/bin/chromium",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for code in ("A668", "A817"):
        assert runner.invoke(app, ["stores", "add", code, "--etl"]).exit_code == 0
    outcome = runner.invoke(app, ["portal", "fetch", "--date", DAY.isoformat()])
    assert outcome.exit_code == 0, outcome.output
    assert sorted(p.name for p in (home / "downloads").glob("*.csv")) == [
        f"{c}-{b}.csv"
        for c in ("A668", "A817")
        for b in ("missed-leads", "repeat-customers", "undelivered-all")
    ]
    with sqlite3.connect(home / "crm.db") as conn:
        names = dict(conn.execute("SELECT store_code, store_name FROM store_master").fetchall())
        summaries = conn.execute("SELECT count(*) FROM store_dashboard_summary").fetchone()[0]
    assert names == {"A668": "UTTAM NAGAR DELHI", "A817": "KIRTI NAGAR DELHI"} and summaries == 2
    bad = runner.invoke(app, ["portal", "fetch", "--date", "19-11-2025"])
    assert bad.exit_code == 2


async def test_an_overloaded_portal_at_start_up_is_a_transient_outage(
    sim: SandboxServer, tmp_path: Path
) -> None:
    """A 503 home page is neither "session reused" nor a login failure: the task retries it later."""
    from crm_core.portal.client import PortalUnavailable
    from tasks.common import is_transient

    with pytest.raises(PortalUnavailable, match="HTTP 503") as info:
        await run(sim, tmp_path, ["A668"], "status/home=503", nav_attempts=1)
    assert is_transient(info.value)
