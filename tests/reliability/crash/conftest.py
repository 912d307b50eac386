"""Fixtures of the crash and concurrency tests: the simulator, databases seeded like a real install, an
SMTP server the test can hold, and the reference a clean daily run leaves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from tests.reliability.crash.daily_process import (
    DAY,
    EXPECTED_EMAILS,
    PDFS,
    GatedHandler,
    daily_env,
    day_contents,
    documents_match_files,
    pdf_attachments,
    received_once,
    run_daily,
    seeded_database,
    smtp,
)


@pytest.fixture(scope="session")
def sim() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(dashboard_date=DAY)) as server:
        yield server


@pytest.fixture
def api_url(prefect_harness: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
async def clean_day(
    pg_template: str, sim: SandboxServer, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What one clean daily run of DAY leaves in a fresh database: the reference for every rerun."""
    from prefect.settings import PREFECT_API_URL

    home = tmp_path_factory.mktemp("clean") / "home"
    handler = GatedHandler()
    async with seeded_database(pg_template) as url, smtp(handler) as port:
        env = daily_env(home, url, sim, port, str(PREFECT_API_URL.value()))
        code, output = run_daily(env, home.parent / "clean.log")
        assert code == 0, output[-4000:]
        contents = await day_contents(url)
        assert await documents_match_files(url, home) == ["A668", "A817"]
    assert all(contents[bucket] for bucket in contents), contents
    assert len(received_once(handler)) == EXPECTED_EMAILS and pdf_attachments(handler) == PDFS
    return contents
