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


def test_config_error_is_what_settings_raise() -> None:
    from crm_core import settings

    assert settings.ConfigError is ConfigError
