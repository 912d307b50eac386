"""The SMTP path as production configures it: STARTTLS (the default) and implicit SSL, both with AUTH, on a
real aiosmtpd server with a self-signed certificate; and which failures are retried.

The server records, per accepted message, whether the session was encrypted and which login it
authenticated, so the tests prove the credentials travelled over TLS rather than assume it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crm_core.errors import is_transient
from crm_core.notify.engine import deliver_with_retries
from crm_core.notify.plans import EmailPlan
from crm_core.notify.transport import DeliveryError, send_smtp
from crm_core.settings import Settings
from tests.conftest import free_port

USER, PASSWORD = "reports@tsv.example", "s3cret-smtp-pass"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        # The client checks the host name against this, as it would against a real server's certificate.
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "smtp.crt", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Server:
    """What the server saw: per accepted message, (TLS?, authenticated login); and how it answers DATA."""

    port: int = 0
    accepted: list[tuple[bool, str | None]] = field(default_factory=list)
    data_calls: int = 0
    failed_logins: int = 0
    login_sessions: set[int] = field(default_factory=set)  # connections that tried to log in
    replies: list[str] = field(default_factory=list)  # answers to the next DATA commands, then "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        self.login_sessions.add(id(session))
        if not ok:
            self.failed_logins += 1
        # handled=False: the server itself answers 535, as a real one does.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.replies:
            return self.replies.pop(0)
        login = session.auth_data.login.decode() if session.authenticated else None
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.accepted.append((encrypted, login))
        return "250 OK"


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def start(server: Server, context: ssl.SSLContext, mode: str) -> Controller:
    kwargs: dict[str, Any] = {"authenticator": server.authenticate, "auth_required": True}
    if mode == "ssl":
        # TLS from the first byte (port 465 style). aiosmtpd's auth_require_tls only knows STARTTLS, so it
        # is off here; `Server.accepted` still shows each login happened on a TLS session.
        kwargs |= {"ssl_context": context, "auth_require_tls": False}
    else:
        # STARTTLS required before anything else; AUTH is refused on a clear-text session.
        kwargs |= {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(server, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    server.port = controller.port
    return controller


@pytest.fixture(params=["starttls", "ssl"])
def secured(request: pytest.FixtureRequest, tls_context: ssl.SSLContext) -> Iterator[tuple[Server, str]]:
    server = Server()
    controller = start(server, tls_context, request.param)
    yield server, request.param
    controller.stop()


def smtp_settings(
    tmp_path: Path, port: int, security: str, password: str = PASSWORD, trust_test_ca: bool = True
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        # The server's self-signed certificate (written by `self_signed` into the same tmp_path).
        smtp_ca_file=tmp_path / "smtp.crt" if trust_test_ca else None,
        crm_home=tmp_path / "home",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,
        smtp_username=USER,
        smtp_password=password,
        smtp_timeout_s=10,
    )


def plan() -> EmailPlan:
    return EmailPlan(
        "dashboard_daily",
        "run_summary",
        None,
        "Daily run",
        "All stores ok.",
        None,
        ["o@x.example"],
        stored_to=["o@x.example"],  # what the recipients table holds: the message must go there only
    )


def test_the_default_security_is_starttls() -> None:
    assert Settings(_env_file=None).smtp_security == "starttls"  # type: ignore[call-arg]


def test_sends_over_tls_with_login(secured: tuple[Server, str], tmp_path: Path) -> None:
    server, mode = secured
    delivery = send_smtp(plan(), smtp_settings(tmp_path, server.port, mode))
    assert delivery.status == "sent"
    assert server.accepted == [(True, USER)]


def test_a_certificate_the_client_does_not_trust_stops_before_the_password_is_sent(
    secured: tuple[Server, str], tmp_path: Path
) -> None:
    server, mode = secured
    settings = smtp_settings(tmp_path, server.port, mode, trust_test_ca=False)
    with pytest.raises(DeliveryError) as failure:
        asyncio.run(deliver_with_retries(plan(), settings, "run-tls", attempts=3, backoff_s=0))
    assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value)
    assert not failure.value.transient and failure.value.attempts == 1  # fixing it takes a person
    assert server.login_sessions == set() and server.accepted == []


def test_plain_settings_are_refused_by_a_server_that_requires_starttls(
    tls_context: ssl.SSLContext, tmp_path: Path
) -> None:
    """Proves the STARTTLS test above depends on STARTTLS: without it the same server sends nothing."""
    server = Server()
    controller = start(server, tls_context, "starttls")
    try:
        with pytest.raises(DeliveryError) as failure:
            send_smtp(plan(), smtp_settings(tmp_path, server.port, "none"))
    finally:
        controller.stop()
    assert server.accepted == []
    assert PASSWORD not in str(failure.value)


async def test_bad_credentials_are_permanent_and_tried_once(
    secured: tuple[Server, str], tmp_path: Path
) -> None:
    server, mode = secured
    settings = smtp_settings(tmp_path, server.port, mode, password="wrong-password")
    with pytest.raises(DeliveryError) as failure:
        await deliver_with_retries(plan(), settings, "run-tls", attempts=3, backoff_s=0)
    assert not failure.value.transient and not is_transient(failure.value)
    assert failure.value.attempts == 1
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN), all on one connection.
    assert server.failed_logins >= 1
    assert len(server.login_sessions) == 1
    assert server.accepted == []
    assert "wrong-password" not in str(failure.value)


async def test_a_4xx_answer_is_retried_and_then_delivered(
    secured: tuple[Server, str], tmp_path: Path
) -> None:
    server, mode = secured
    server.replies = ["451 4.3.0 Temporary local problem, try again"]
    delivery, attempts = await deliver_with_retries(
        plan(), smtp_settings(tmp_path, server.port, mode), "run-tls", attempts=3, backoff_s=0
    )
    assert delivery.status == "sent"
    assert attempts == 2
    assert server.data_calls == 2
    assert server.accepted == [(True, USER)]


async def test_a_4xx_answer_every_time_gives_up_after_the_attempts(
    secured: tuple[Server, str], tmp_path: Path
) -> None:
    server, mode = secured
    server.replies = ["421 4.7.0 Try again later"] * 5
    with pytest.raises(DeliveryError) as failure:
        await deliver_with_retries(
            plan(), smtp_settings(tmp_path, server.port, mode), "run-tls", attempts=3, backoff_s=0
        )
    assert failure.value.transient and is_transient(failure.value)
    assert failure.value.attempts == 3
    assert server.data_calls == 3


async def test_a_5xx_answer_is_permanent_and_tried_once(secured: tuple[Server, str], tmp_path: Path) -> None:
    server, mode = secured
    server.replies = ["554 5.7.1 Message rejected as spam"]
    with pytest.raises(DeliveryError) as failure:
        await deliver_with_retries(
            plan(), smtp_settings(tmp_path, server.port, mode), "run-tls", attempts=3, backoff_s=0
        )
    assert not failure.value.transient and not is_transient(failure.value)
    assert failure.value.attempts == 1
    assert server.data_calls == 1
    assert server.accepted == []
