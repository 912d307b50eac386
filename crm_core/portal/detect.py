"""Is this a login page? Does this body look like one? — by configured URLs and content only.

No host names are hard-coded: the portal and TMS origins and the login path come from settings.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LOGIN_PHRASES = (
    "invalid username",
    "invalid password",
    "incorrect username",
    "incorrect password",
    "need to login",
    "need to log in",
    "need to be logged in",
    "you need to be logged in",
    "please login",
    "please log in",
)
# Phrases that mean the site refused the credentials (a hard login failure, never retried).
LOGIN_ERROR_PHRASES = LOGIN_PHRASES[:4]
_FORM_TOKENS = ('name="user_name"', 'name="password"', 'type="submit"')
_PASSWORD_INPUT = re.compile(r'<input[^>]*(type="password"|name="password")', re.I)


def _normalise(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.lower().replace("'", '"').replace("\u201c", '"').replace("\u201d", '"')


def looks_like_login(html: str | bytes) -> bool:
    """An explicit 'log in' phrase, or a password input together with a login-form token."""
    text = _normalise(html)
    if any(phrase in text for phrase in LOGIN_PHRASES):
        return True
    return bool(_PASSWORD_INPUT.search(text)) and any(token in text for token in _FORM_TOKENS)


def reports_login_error(html: str) -> bool:
    text = _normalise(html)
    return any(phrase in text for phrase in LOGIN_ERROR_PHRASES)


def has_login_fields(html: str) -> bool:
    text = _normalise(html)
    return 'name="user_name"' in text and 'name="password"' in text


def same_origin(url: str, origin: str | None) -> bool:
    if not origin:
        return False
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def is_login_page(
    url: str | None, html: str, *, portal_origin: str, tms_origin: str, login_path: str
) -> bool:
    """In order: no URL → no; TMS page → no (content checks catch TMS auth); login URL → yes;
    both login fields → yes; login-like HTML → yes."""
    if not url:
        return False
    if same_origin(url, tms_origin):
        return False
    if same_origin(url, portal_origin) and urlsplit(url).path.rstrip("/") == login_path.rstrip("/"):
        return True
    return has_login_fields(html) or looks_like_login(html)
