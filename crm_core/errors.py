"""The product's exception classes and the one rule that decides whether a failure is worth retrying.

Transient: the portal, the database or the mail server hiccuped, and the same step may succeed when tried
again (the step's own transaction or file handling makes the retry safe). Permanent: bad configuration,
bad credentials or bad data; trying again changes nothing, so the failure is reported at once.
Every module raises (or wraps what it catches into) one of these; the task retry policy reads
`is_transient` and nothing else.
"""

from __future__ import annotations

import asyncio
import smtplib


class CrmError(Exception):
    """Base of the product's errors; `transient` says whether trying again later may succeed."""

    transient: bool = False

    def __init__(self, message: str = "", *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient


class TransientError(CrmError):
    """A failure of something outside the product that may pass: retried."""

    transient = True


class PermanentError(CrmError):
    """A failure that trying again cannot fix: reported at once, never retried."""

    transient = False


class ConfigError(PermanentError):
    """Bad configuration or missing prerequisite; the message is one line meant for the operator."""


# Errors of the standard library and drivers that mean "the other side went away", not "bad input".
_TRANSIENT_BUILTINS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
)


# Driver error codes that mean the connection or the server went away, or the transaction lost a race
# with another one: the same statements may succeed on a fresh connection. PostgreSQL SQLSTATEs
# (class 08: connection exception; 57P01-57P03: shutdown or not accepting connections yet; 53300: too many
# connections; 40001/40P01: serialization failure, deadlock) and SQLite's busy/locked result codes.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
_TRANSIENT_SQLITE_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED")


def driver_code(exc: BaseException) -> str | None:
    """The SQLSTATE or SQLite result code of a driver error (SQLAlchemy's wrapper, the adapted DBAPI
    error or the driver's own one underneath)."""
    seen: BaseException | None = exc
    for _ in range(3):
        if seen is None:
            return None
        for attribute in ("sqlstate", "pgcode", "sqlite_errorname"):
            code = getattr(seen, attribute, None)
            if isinstance(code, str) and code:
                return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the failure may pass if the same step is tried again."""
    if isinstance(exc, CrmError):
        return exc.transient
    if isinstance(exc, _TRANSIENT_BUILTINS):
        return True
    # Imported here so that the CLI's start-up does not pay for SQLAlchemy.
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = driver_code(exc)
    if code is not None:
        return code.startswith(_TRANSIENT_SQLSTATES + _TRANSIENT_SQLITE_CODES)
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    transient = getattr(exc, "transient", None)
    return transient is True
