"""The download task retries only transient failures."""

from __future__ import annotations

from crm_core.portal.session import LoginFailed, PortalUnavailable
from crm_core.settings import ConfigError
from tasks.common import is_transient, retry_transient_only
from tasks.download import download_exports


def test_only_transient_portal_errors_are_retried() -> None:
    assert download_exports.retries == 3
    assert download_exports.retry_condition_fn is retry_transient_only
    assert is_transient(PortalUnavailable("portal home unreachable"))
    assert not is_transient(LoginFailed("site reports login error"))
    assert not is_transient(ConfigError("PORTAL_BASE_URL and PORTAL_TMS_URL must be set"))
