"""One rule decides retries: transient failures of the outside world, never bad configuration or data."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from crm_core.errors import ConfigError, CrmError, PermanentError, TransientError, is_transient


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TransientError("portal 503"), True),
        (PermanentError("bad login"), False),
        (ConfigError("DATABASE_URL must be set"), False),
        (CrmError("database dropped", transient=True), True),
        (TransientError("marked permanent by its raiser", transient=False), False),
        (ConnectionResetError("peer reset"), True),
        (TimeoutError("slow"), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("bad date"), False),
        (KeyError("column"), False),
    ],
)
def test_is_transient(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_an_invalidated_connection_is_transient_whatever_its_class() -> None:
    exc = DBAPIError("SELECT 1", {}, Exception("terminating connection"), connection_invalidated=True)
    assert is_transient(exc)


def test_driver_errors_are_judged_by_their_code() -> None:
    import sqlite3

    import asyncpg

    assert is_transient(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert is_transient(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"))
    assert not is_transient(asyncpg.exceptions.CheckViolationError("violates check constraint"))
    try:
        sqlite3.connect(":memory:").execute("SELECT * FROM missing")
    except sqlite3.OperationalError as exc:
        no_table = exc
    # SQLite reports a missing table as an OperationalError: its result code says it is permanent.
    assert not is_transient(OperationalError("SELECT", {}, no_table))


def test_config_error_is_what_settings_raise() -> None:
    from crm_core import settings

    assert settings.ConfigError is ConfigError
