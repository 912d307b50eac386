"""Delivering one planned email: SMTP through `emails` (STARTTLS / SSL / plain) or the file outbox."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from email import message_from_string
from email.utils import getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from emails.backend.smtp.backend import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL
from emails.message import Message

from crm_core.fsutil import write_atomic
from crm_core.json_logger import describe_exception
from crm_core.notify.plans import EmailPlan
from crm_core.settings import Settings


class DeliveryError(Exception):
    """Sending failed; `transient` says whether trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
        self.attempts = 1


@dataclass(frozen=True)
class Delivery:
    status: str  # "sent" or "outbox"
    message_id: str | None
    where: str


def build_message(plan: EmailPlan, sender: str) -> Message:
    message = Message(
        subject=plan.subject,
        text=plan.text,
        html=plan.html,
        mail_from=sender,
        mail_to=list[str | tuple[str | None, str]](plan.to),
        cc=list[str | tuple[str | None, str]](plan.cc),
        bcc=list[str | tuple[str | None, str]](plan.bcc),
        # A unique id per email: `message_id=True` makes `emails` write the literal "True", and mail
        # systems drop later messages whose id they have already seen.
        message_id=make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost"),
    )
    for path in plan.attachments:
        message.attach(data=path.read_bytes(), filename=path.name, content_type="application/pdf")
    check_recipients(message, plan)
    return message


def check_recipients(message: Message, plan: EmailPlan) -> None:
    """The built message must go to exactly the stored addresses: a display name or address carrying a
    line break or a comma (written to the database past our checks) would otherwise add a recipient or
    drop the real one. The To and Cc headers are parsed back from the built message, the envelope is
    what the SMTP client will use. On a mismatch nothing is sent (not transient: the data must change).
    """

    def same(found: list[str], stored: list[str]) -> bool:
        return sorted(a.strip().lower() for a in found) == sorted(a.strip().lower() for a in stored)

    try:
        built = message_from_string(message.as_string())
    except Exception as exc:  # `emails` refuses a header with a line break; its message quotes the header
        raise DeliveryError(
            f"not sent: the message could not be built ({type(exc).__name__}: a recipient name or address "
            "with a line break?); fix it with crm recipients",
            transient=False,
        ) from None
    headers = {
        header: [address for _, address in getaddresses(built.get_all(header, []))] for header in ("To", "Cc")
    }
    envelope = [a for a in message.get_recipients_emails() if a]
    stored_all = {a.strip().lower() for a in plan.stored_to + plan.stored_cc + plan.stored_bcc}
    if (
        same(headers["To"], plan.stored_to)
        and same(headers["Cc"], plan.stored_cc)
        and not built.get_all("Bcc")
        and {a.strip().lower() for a in envelope} == stored_all
    ):
        return
    # Addresses are personal data: the message says what is wrong, not who.
    raise DeliveryError(
        f"not sent: the recipients of the built message differ from the {len(stored_all)} stored ones "
        "(a recipient name or address with a line break or separator?); fix it with crm recipients",
        transient=False,
    )


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | ssl.SSLCertVerificationError):
        return False  # the wrong password or an untrusted server stays so until someone fixes it
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, smtplib.SMTPException | OSError)


# smtplib's STARTTLS and SMTP_SSL default to a context that checks neither the certificate nor the host
# name, so anyone on the path could read the SMTP password: these clients always verify both.
class _VerifiedStartTls(SMTPClientWithResponse):
    def __init__(self, parent: Any, *, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._verified_context = context
        super().__init__(parent, **kwargs)  # type: ignore[no-untyped-call]

    def starttls(self, *_args: Any, **_kwargs: Any) -> tuple[int, bytes]:
        return super().starttls(context=self._verified_context)


class _VerifiedSsl(SMTPClientWithResponse_SSL):
    def __init__(self, *, context: ssl.SSLContext, **kwargs: Any) -> None:
        connect = {k: kwargs[k] for k in ("host", "port", "local_hostname", "timeout") if k in kwargs}
        smtplib.SMTP_SSL.__init__(self, context=context, **connect)
        SMTPClientWithResponse.__init__(self, **kwargs)  # type: ignore[no-untyped-call]


class _VerifiedBackend(SMTPBackend):
    # The library types these as its own classes; ours take the extra `context` it passes through.
    connection_cls = _VerifiedStartTls  # type: ignore[assignment]
    connection_ssl_cls = _VerifiedSsl  # type: ignore[assignment]


def _tls_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def send_smtp(plan: EmailPlan, settings: Settings) -> Delivery:
    """One SMTP connection per email, closed afterwards; failures raise `DeliveryError`."""
    assert settings.smtp_host is not None
    message = build_message(plan, settings.smtp_from)
    backend = _VerifiedBackend(
        context=_tls_context(settings),
        host=settings.smtp_host,
        port=settings.smtp_port,
        ssl=settings.smtp_security == "ssl",
        tls=settings.smtp_security == "starttls",
        user=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_s,
        fail_silently=False,
    )
    try:
        response = message.send(smtp=backend)
    except Exception as exc:
        raise DeliveryError(describe_exception(exc), transient=_is_transient(exc)) from None
    finally:
        # Closing a broken connection must not hide the real outcome.
        with contextlib.suppress(Exception):
            backend.close()
    if response is None or not response.success:
        error = getattr(response, "error", None)
        code = getattr(response, "status_code", None)
        transient = error is None or _is_transient(error) or (code is not None and 400 <= code < 500)
        raise DeliveryError(f"SMTP refused the message (status {code}): {error}", transient=transient)
    return Delivery("sent", str(message.message_id), f"{settings.smtp_host}:{settings.smtp_port}")


def write_outbox(plan: EmailPlan, settings: Settings, run_id: str) -> Delivery:
    """Without SMTP_HOST the email is written as an .eml file an operator can open."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run_id}_{plan.profile_code}_{plan.store_code or 'run'}")
    path: Path = settings.outbox_path / f"{safe}.eml"
    message = build_message(plan, settings.smtp_from)
    write_atomic(path, message.as_string().encode("utf-8"))
    return Delivery("outbox", str(message.message_id), str(path))
