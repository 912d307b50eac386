"""What a store code is, in one place: 1–3 ASCII letters then 1–5 ASCII digits (A668).

Codes are checked when they come in (CLI, parameters) and again wherever one becomes part of a file name,
a folder or a URL: a code written to the database by other means (`../../x`, `A٦٦٨` with Arabic-Indic
digits) must fail that store with a clear error, never name a path outside CRM_HOME.
"""

from __future__ import annotations

import re

from crm_core.errors import ConfigError

# re.ASCII: without it \d and [A-Z] after upper() would let other scripts' digits and letters through.
STORE_CODE_RE = re.compile(r"[A-Z]{1,3}[0-9]{1,5}", re.ASCII)


class InvalidStoreCode(ConfigError):
    """A store code that is not letters then digits (ASCII); only that store fails."""


def normalise_store_code(code: str) -> str:
    """Store codes are trimmed and upper-cased everywhere; anything else is refused."""
    normalised = code.strip().upper()
    if not STORE_CODE_RE.fullmatch(normalised):
        raise InvalidStoreCode(f"store code {code!r} is not valid (letters then digits, e.g. A668)")
    return normalised


def checked_store_code(code: str) -> str:
    """`code` itself when it is a valid, normalised store code (for building file names and URLs)."""
    if not STORE_CODE_RE.fullmatch(code):
        raise InvalidStoreCode(f"store code {code!r} is not valid (letters then digits, e.g. A668)")
    return code


COMBINED = "ALL"  # the file-name code of documents covering every store


def checked_file_code(code: str) -> str:
    """`checked_store_code`, also allowing the combined documents' `ALL`."""
    return code if code == COMBINED else checked_store_code(code)
