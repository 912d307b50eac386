"""Control characters in text that came from people or the portal: one definition, used where such text is
stored (refused) and where it is shown on a terminal (removed).

C0/C1 controls and DEL (line breaks would inject email headers; ESC starts terminal escape sequences), the
Unicode line and paragraph separators, and the bidirectional overrides that make text display in an order
other than the one it is stored in.
"""

from __future__ import annotations

import re

from crm_core.errors import ConfigError

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


def refuse_control_characters(value: str | None, what: str) -> str | None:
    """`value` unchanged, or `ConfigError` naming `what` (never echoing the value: it is the attack)."""
    if value is not None and has_control_characters(value):
        raise ConfigError(f"{what} contains control characters (line breaks, tabs, escapes): refused")
    return value
