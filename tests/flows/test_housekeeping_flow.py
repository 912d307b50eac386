"""The housekeeping flow inside a Prefect test server: a dry run changes nothing, the real run deletes an
old outbox email and keeps a new one, and the outcome is a markdown artifact."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.usefixtures("prefect_harness")]


async def test_housekeeping_flow_dry_run_then_real(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str
) -> None:
    from prefect.client.orchestration import get_client

    from flows.housekeeping import housekeeping_flow

    monkeypatch.setenv("CRM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RETENTION_OUTBOX_DAYS", "30")
    outbox = tmp_path / "home" / "outbox"
    outbox.mkdir(parents=True)
    old, new = outbox / "old.eml", outbox / "new.eml"
    for path in (old, new):
        path.write_text("Subject: x\n\nbody\n")
    stamp = time.time() - 31 * 86400
    os.utime(old, (stamp, stamp))

    dry = await housekeeping_flow(dry_run=True)
    assert old.exists() and new.exists()
    outbox_sweep = next(s for s in dry["sweeps"] if s["name"] == "outbox emails")
    assert outbox_sweep["count"] == 1 and outbox_sweep["days"] == 30

    done = await housekeeping_flow()
    assert not old.exists() and new.exists()
    assert done["dry_run"] is False
    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
    shown = [a.data for a in artifact if a.key == "housekeeping"]
    assert shown and "outbox emails older than 30 days: deleted 1" in str(shown[0])
