"""Canary secrets and canary customers through real daily runs, then a search of every output.

Every secret the product holds gets a value that cannot occur by chance: the database password (a
PostgreSQL role of its own, its password in DATABASE_URL), the SMTP password (aiosmtpd asking for AUTH),
the portal password (the simulator's login) and the simulator's session cookies and hand-off tokens. Every
customer name and mobile of the exports is replaced by a canary. Three runs of one day exercise the happy
path, rejected rows plus a failing export, and a refused login with emails going to the outbox. Then the
NDJSON log, stdout/stderr, the Prefect API (flow and task runs, states, logs, artifacts) and the Prefect
server's own database, every text of every table, the emails, the PDFs (metadata and text), the login
artifacts, the rejects files and every byte under CRM_HOME are searched.

The secrets appear nowhere, except the session cookies inside the saved session file, which exists to hold
them. Personal data appears only where it must: the action lists of the store PDFs, the tables that store
the exports, and the per-store export files kept on disk for a rerun (copies of what the portal sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import gzip
import io
import os
import re
import secrets as std_secrets
import stat
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from crm_core.db.engine import make_engine, session_factory
from crm_core.db.models import INGEST_TABLES
from crm_core.demo import seed_demo
from crm_core.portal.sandbox import app as sandbox_app
from crm_core.portal.sandbox import data as sandbox_data
from crm_core.portal.sandbox.app import DEMO_USERNAME
from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer
from flows.daily import daily_flow
from tests.conftest import PG_ADMIN_DSN, PG_HOST, PG_PORT, free_port
from tests.flows.test_daily_flow import DAY

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]

TAG = uuid.uuid4().hex[:10]
DB_PASSWORD = f"CnryDbPw{TAG}"
SMTP_USERNAME = "reports-mailer"
SMTP_PASSWORD = f"CnrySmtpPw{TAG}"
PORTAL_PASSWORD = f"CnryPortalPw{TAG}"
SESSION_PREFIX = "CnrySess"
NAME_PREFIX = "Zyxcanary"
# Canary mobiles are 6999000 and three digits, also as people write them (69990 00123); never part of a
# longer number or of a decimal fraction (the Prefect database holds durations such as 0.6999402026).
MOBILE_RE = re.compile(rb"(?<![\d.])69990[\s-]?00\d{3}(?!\d)")
NAME_RE = re.compile(NAME_PREFIX.encode(), re.IGNORECASE)
INGEST_TABLE_NAMES = {table.name for table in INGEST_TABLES.values()}
PREFECT_TABLES_WITH_RUN_DATA = ("log", "artifact", "flow_run", "task_run", "flow_run_state", "task_run_state")


class CanaryTokens:
    """Stands in for the simulator's `secrets` module: every session cookie and hand-off token it issues
    is a recognisable canary (and remembered)."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        token = f"{SESSION_PREFIX}{len(self.issued):03d}{std_secrets.token_hex(6)}"
        self.issued.append(token)
        return token

    compare_digest = staticmethod(std_secrets.compare_digest)


class CanaryCustomers:
    """Wraps the simulator's data generator: every mobile becomes a canary mobile (one per real one, so
    repeat customers stay repeat customers and the dashboard figures still match) and every customer name
    a canary name."""

    def __init__(self) -> None:
        self.original = sandbox_data.store_day
        self.mobiles: dict[str, str] = {}

    def mobile(self, number: str) -> str:
        if not number:
            return number
        assert len(self.mobiles) < 1000, "more customers than canary mobiles"
        return self.mobiles.setdefault(number, f"6999000{len(self.mobiles):03d}")

    def __call__(self, store_code: str, day: Any, seed: int = 0) -> sandbox_data.StoreDay:
        real = self.original(store_code, day, seed)
        return dataclasses.replace(
            real,
            missed_leads=[
                dict(
                    row,
                    mobile_number=self.mobile(row["mobile_number"]),
                    customer_name=f"{NAME_PREFIX}{row['customer_name']}" if row["customer_name"] else "",
                )
                for row in real.missed_leads
            ],
            undelivered=[dict(row, mobile_no=self.mobile(row["mobile_no"])) for row in real.undelivered],
            repeat_customers=[
                {**row, "Mobile No.": self.mobile(row["Mobile No."])} for row in real.repeat_customers
            ],
            nonpackage=[{**row, "Mobile No": self.mobile(row["Mobile No"])} for row in real.nonpackage],
        )


class RawRecordingHandler:
    """aiosmtpd handler keeping the raw bytes of every accepted message."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.raw.append(bytes(envelope.content))
        return "250 OK"


class CanaryAuthenticator:
    """Accepts exactly the canary SMTP login; remembers that it was asked."""

    def __init__(self) -> None:
        self.logins: list[bool] = []
        self.refuse = False  # a server that rejects even the right login: the error path of AUTH

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USERNAME.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        self.logins.append(ok)
        return AuthResult(success=ok and not self.refuse, handled=False)


@dataclass
class Outputs:
    """Everything the three runs left behind, as (place, bytes)."""

    home: Path
    results: list[dict[str, Any]]
    tokens: list[str]
    smtp_logins: list[bool]
    portal_stats: dict[str, int]
    places: list[tuple[str, bytes]] = field(default_factory=list)
    db_rows: list[tuple[str, str, bytes]] = field(default_factory=list)  # (table, column, value)
    emails: list[EmailMessage] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)

    def add(self, place: str, value: str | bytes) -> None:
        self.places.append((place, value if isinstance(value, bytes) else value.encode("utf-8")))


def secret_values(tokens: list[str]) -> dict[str, bytes]:
    values = {
        "database password": DB_PASSWORD,
        "SMTP password": SMTP_PASSWORD,
        "portal password": PORTAL_PASSWORD,
    }
    values |= {f"session token {token}": token for token in tokens}
    return {label: value.encode() for label, value in values.items()}


def secrets_in(blob: bytes, tokens: list[str]) -> list[str]:
    return [label for label, value in secret_values(tokens).items() if value in blob]


def personal_in(blob: bytes) -> list[str]:
    found = [m.decode() for m in MOBILE_RE.findall(blob)]
    return found[:3] + ([f"{NAME_PREFIX}…"] if NAME_RE.search(blob) else [])


def file_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # rotated logs may be gzip'd: search what they say, not their compression
        return gzip.decompress(raw)
    return raw


def pdf_text_and_metadata(path: Path) -> tuple[str, str]:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    body = "\n".join(page.extract_text() for page in reader.pages)
    metadata = repr(dict(reader.metadata or {}))
    xmp = reader.xmp_metadata
    if xmp is not None:
        metadata += xmp.stream.get_data().decode("utf-8", "replace")
    return body, metadata


@contextmanager
def captured_output(sink: Path) -> Iterator[None]:
    """What an operator's terminal or journal would get: Python's stdout/stderr and, below them, the file
    descriptors 1 and 2 (where child processes such as Chromium write)."""
    with sink.open("w+b") as fd_sink, sink.with_suffix(".py.txt").open("w", encoding="utf-8") as py_sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
        os.dup2(fd_sink.fileno(), 1)
        os.dup2(fd_sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(py_sink), contextlib.redirect_stderr(py_sink):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


async def _admin(*statements: str, database: str = "postgres") -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}")
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _run_day(**params: Any) -> tuple[Any, dict[str, Any]]:
    state = await daily_flow(report_date=DAY, return_state=True, **params)
    result = await state.aresult(raise_on_failure=False)
    assert isinstance(result, dict), (state.name, state.message, result)
    return state, result


async def _read_prefect(out: Outputs, flow_run_ids: list[Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    async with get_client() as client:
        for flow_run_id in flow_run_ids:
            flow_run = await client.read_flow_run(flow_run_id)
            out.add(f"Prefect flow run {flow_run_id} (parameters, state)", flow_run.model_dump_json())
            for state in await client.read_flow_run_states(flow_run_id):
                out.add(f"Prefect flow run state {state.name}", state.model_dump_json())
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            for task_run in task_runs:
                out.add(f"Prefect task run {task_run.name}", task_run.model_dump_json())
                for state in await client.read_task_run_states(task_run.id):
                    out.add(f"Prefect task run {task_run.name} state {state.name}", state.model_dump_json())
        offset = 0
        while True:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)),
                limit=200,
                offset=offset,
            )
            for log in logs:
                out.add(f"Prefect log {log.name}", log.model_dump_json())
            if len(logs) < 200:
                break
            offset += 200
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
        )
        for artifact in artifacts:
            out.add(f"Prefect artifact {artifact.key}", artifact.model_dump_json())
    assert any(p.startswith("Prefect log") for p, _ in out.places), "no Prefect logs read"
    assert any(p.startswith("Prefect artifact") for p, _ in out.places), "no Prefect artifacts read"
    # The Prefect server's own database, whatever the API does not show (events, caches).
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or "")
    if url.startswith("sqlite"):
        db_file = Path(url.split("///", 1)[1])
        for path in (db_file, db_file.with_name(db_file.name + "-wal")):
            if path.exists():
                out.add(f"Prefect server database {path.name}", path.read_bytes())
    assert any(p.startswith("Prefect server database") for p, _ in out.places), url


async def _read_product_db(out: Outputs, url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(
                lambda sync: {
                    t: [c["name"] for c in sa_inspect(sync).get_columns(t)]
                    for t in sa_inspect(sync).get_table_names()
                }
            )
            for table, columns in tables.items():
                for column in columns:
                    rows = await conn.execute(text(f'SELECT "{column}"::text FROM "{table}"'))
                    out.db_rows += [(table, column, str(v).encode()) for (v,) in rows if v is not None]
    finally:
        await engine.dispose()


ROLE = DATABASE = f"crm_canary_{TAG}"
DB_URL = f"postgresql+asyncpg://{ROLE}:{DB_PASSWORD}@{PG_HOST}:{PG_PORT}/{DATABASE}"


async def _scenario(
    home: Path, template: str, sim: SandboxServer, smtp_port: int, smtp_auth: CanaryAuthenticator
) -> tuple[list[Any], list[dict[str, Any]], list[str]]:
    role, database, url = ROLE, DATABASE, DB_URL
    await _admin(
        f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{DB_PASSWORD}'",
        f'CREATE DATABASE "{database}" TEMPLATE "{template}" OWNER "{role}"',
    )
    await _admin(
        f'GRANT ALL ON SCHEMA public TO "{role}"',
        f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"',
        f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
        database=database,
    )
    values = {
        "CRM_HOME": str(home),
        "CRM_TODAY": (DAY + timedelta(days=1)).isoformat(),
        "DATABASE_URL": url,
        "JSON_LOG_FILE": str(home / "logs" / "events.ndjson"),
        "PORTAL_BASE_URL": sim.portal_origin,
        "PORTAL_TMS_URL": sim.tms_origin,
        "PORTAL_USERNAME": DEMO_USERNAME,
        "PORTAL_PASSWORD": PORTAL_PASSWORD,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",
        "SMTP_USERNAME": SMTP_USERNAME,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_FROM": "TSV Reports <reports@example.com>",
    }
    results: list[dict[str, Any]] = []
    flow_runs: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        for key, value in values.items():
            mp.setenv(key, value)
        engine = make_engine(url)
        async with session_factory(engine)() as session, session.begin():
            await seed_demo(session)
        await engine.dispose()

        # 1. The happy path: every store downloaded, stored, reported and emailed through SMTP AUTH.
        state, result = await _run_day()
        assert result["status"] == "ok", result["summary_text"]
        flow_runs.append(state.state_details.flow_run_id)
        results.append(result)

        # A dry run: its events show sample rows of every bucket, personal fields masked.
        state, result = await _run_day(dry_run=True)
        assert result["dry_run"] and result["status"] == "ok", result["summary_text"]
        flow_runs.append(state.state_details.flow_run_id)
        results.append(result)

        # 2. Rejected rows (a rejects file, their reasons in the summary), an export answering 500 and the
        # SMTP server refusing the login (the run summary fails to go out).
        smtp_auth.refuse = True
        sim.state.faults.add("bad_values@A668/missed_leads")
        sim.state.faults.add("bad_values@A817/undelivered_all")
        sim.state.faults.add("status@A817/repeat_customers=500")
        state, result = await _run_day()
        assert result["status"] == "warning", result["summary_text"]
        assert result["metrics"]["email"]["delivered"] == 0, result["metrics"]["email"]
        flow_runs.append(state.state_details.flow_run_id)
        results.append(result)
        sim.state.faults.clear()
        smtp_auth.refuse = False

        # 3. Every session gone and the login refused: login artifacts; the emails go to the outbox.
        sim.state.expire("all")
        sim.state.faults.add("login_error")
        mp.delenv("SMTP_HOST")
        state, result = await _run_day()
        assert result["status"] == "error", result["summary_text"]
        flow_runs.append(state.state_details.flow_run_id)
        results.append(result)
        sim.state.faults.clear()

        # 4. The database refusing the connection (no such database): the run fails before it starts.
        mp.setenv("DATABASE_URL", f"{url}_gone")
        failed = await daily_flow(report_date=DAY, return_state=True)
        assert failed.is_failed(), failed
        flow_runs.append(failed.state_details.flow_run_id)
        raised = await failed.aresult(raise_on_failure=False)
        assert isinstance(raised, BaseException), raised
        exceptions = [str(failed.message), "".join(traceback.format_exception(raised))]
    return flow_runs, results, exceptions


@pytest.fixture(scope="module")
def outputs(
    pg_template: str, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outputs]:
    from aiosmtpd.controller import Controller

    tmp = tmp_path_factory.mktemp("canary")
    home = tmp / "home"
    tokens = CanaryTokens()
    customers = CanaryCustomers()
    handler = RawRecordingHandler()
    authenticator = CanaryAuthenticator()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sandbox_app, "secrets", tokens)
            mp.setattr(sandbox_data, "store_day", customers)
            with SandboxServer(SandboxConfig(dashboard_date=DAY)) as sim:
                sim.state.password = PORTAL_PASSWORD
                controller.start()
                try:
                    with captured_output(tmp / "console.txt"):
                        flow_runs, results, exceptions = asyncio.run(
                            _scenario(home, pg_template, sim, controller.port, authenticator)
                        )
                finally:
                    controller.stop()
                    stats = dict(sim.state.stats)
            out = Outputs(home, results, tokens.issued, authenticator.logins, stats)
            for result in results:
                out.add(f"run result {result['run_id']}", repr(result))
            for exception in exceptions:
                out.add("exception of the run without a database", exception)
            out.add("stdout and stderr (file descriptors)", (tmp / "console.txt").read_bytes())
            out.add("stdout and stderr (Python)", (tmp / "console.py.txt").read_bytes())
            asyncio.run(_read_prefect(out, flow_runs))
            asyncio.run(_read_product_db(out, DB_URL))
            out.emails = [email.message_from_bytes(raw, policy=policy.default) for raw in handler.raw]
            for raw in handler.raw:
                out.add("email received by SMTP", raw)
            out.emails += [
                email.message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted((home / "outbox").glob("*.eml"))
            ]
            out.pdfs = sorted(home.rglob("*.pdf"))
            yield out
    finally:
        asyncio.run(
            _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{ROLE}"')
        )


def home_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def is_export_copy(path: Path, home: Path) -> bool:
    """A per-store export or merged file kept for a rerun: a copy of what the portal sent."""
    relative = path.relative_to(home)
    return relative.parts[0] == "downloads" and path.suffix == ".csv" and not path.name.startswith("rejects_")


def test_canary_secrets_appear_in_no_output(outputs: Outputs) -> None:
    # The canaries were really used: runs of each kind, SMTP AUTH with the canary, the canary portal login
    # accepted then refused, canary session cookies issued and saved.
    assert [r["status"] for r in outputs.results] == ["ok", "ok", "warning", "error"]
    assert True in outputs.smtp_logins and False not in outputs.smtp_logins
    assert outputs.portal_stats.get("login_ok", 0) >= 1 and outputs.portal_stats.get("login_failed", 0) >= 1
    session_file = outputs.home / "browser" / "storage_state.json"
    assert secrets_in(session_file.read_bytes(), outputs.tokens), "the saved session holds no canary cookie"
    assert list((outputs.home / "artifacts").glob("*.html")), "no login artifacts to search"
    assert list((outputs.home / "downloads").rglob("rejects_*.csv")), "no rejects file to search"
    assert list((outputs.home / "outbox").glob("*.eml")), "no outbox email to search"
    assert (outputs.home / "logs" / "events.ndjson").stat().st_size > 0

    leaks: list[str] = []
    for place, blob in outputs.places:
        leaks += [f"{place}: {label}" for label in secrets_in(blob, outputs.tokens)]
    for table, column, value in outputs.db_rows:
        leaks += [f"table {table}.{column}: {label}" for label in secrets_in(value, outputs.tokens)]
    for path in home_files(outputs.home):
        found = secrets_in(file_bytes(path), outputs.tokens)
        if path == session_file:  # the saved session exists to hold the cookies, nothing else
            found = [label for label in found if not label.startswith("session token")]
        leaks += [f"{path.relative_to(outputs.home)}: {label}" for label in found]
    for message in outputs.emails:
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                leaks += [
                    f"email {message['Subject']!r} part: {label}"
                    for label in secrets_in(payload, outputs.tokens)
                ]
    for pdf in outputs.pdfs:
        body, metadata = pdf_text_and_metadata(pdf)
        leaks += [
            f"{pdf.name} text/metadata: {label}"
            for label in secrets_in((body + metadata).encode(), outputs.tokens)
        ]
    assert not leaks, "\n".join(leaks)


def test_canary_customers_appear_only_in_reports_and_export_tables(outputs: Outputs) -> None:
    # Where personal data must be: the tables that store the exports, the store PDFs' action lists.
    stored = b"\n".join(value for table, _c, value in outputs.db_rows if table in INGEST_TABLE_NAMES)
    assert MOBILE_RE.search(stored) and NAME_RE.search(stored), "the canary customers were not stored"
    texts = [pdf_text_and_metadata(pdf) for pdf in outputs.pdfs]
    assert texts and any(
        MOBILE_RE.search(body.encode()) and NAME_RE.search(body.encode()) for body, _m in texts
    )

    leaks: list[str] = []
    for place, blob in outputs.places:
        leaks += [f"{place}: {found}" for found in personal_in(blob)]
    for table, column, value in outputs.db_rows:
        if table not in INGEST_TABLE_NAMES:
            leaks += [f"table {table}.{column}: {found}" for found in personal_in(value)]
    for path in home_files(outputs.home):
        if path.suffix == ".pdf" or is_export_copy(path, outputs.home):
            continue  # PDFs: text checked below; export copies hold what the portal sent
        leaks += [f"{path.relative_to(outputs.home)}: {found}" for found in personal_in(file_bytes(path))]
    for message in outputs.emails:
        leaks += [
            f"email header {k}: {found}" for k, v in message.items() for found in personal_in(str(v).encode())
        ]
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and part.get_content_type() != "application/pdf":
                leaks += [f"email {message['Subject']!r} body: {found}" for found in personal_in(payload)]
    for pdf, (_body, metadata) in zip(outputs.pdfs, texts, strict=True):
        leaks += [f"{pdf.name} metadata: {found}" for found in personal_in(metadata.encode())]
    assert not leaks, "\n".join(leaks)
    # The dry run's events did show sample rows of the canary customers, masked: the search looked where
    # personal data would have gone.
    events = (outputs.home / "logs" / "events.ndjson").read_bytes()
    assert f'"customer_name": "{NAME_PREFIX[0]}***"'.encode() in events


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_session_file_outbox_and_login_artifacts_are_private(outputs: Outputs) -> None:
    session_file = outputs.home / "browser" / "storage_state.json"
    modes = {
        str(session_file): (_mode(session_file), 0o600),
        str(session_file.parent): (_mode(session_file.parent), 0o700),
    }
    for folder in (outputs.home / "outbox", outputs.home / "artifacts"):
        modes[str(folder)] = (_mode(folder), 0o700)
        modes |= {str(p): (_mode(p), 0o600) for p in folder.iterdir()}
    wrong = {path: f"{oct(have)} (want {oct(want)})" for path, (have, want) in modes.items() if have != want}
    assert not wrong, wrong
