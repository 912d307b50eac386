"""Fault modes of the portal simulator, switchable per store/endpoint.

A fault is written `NAME[@STORE][/ENDPOINT][=VALUE][#TIMES]`, e.g. `status@A668/missed_leads=429#2`
(A668's missed-leads export answers 429 twice), `slow=2.5` (every response waits 2.5 s),
`missing_section@A817=Delivery`. STORE and ENDPOINT default to every store / every endpoint; TIMES to
"for ever". Endpoints are `login`, `home`, `tracker`, `dashboard` and the export keys of `CSV_ENDPOINTS`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULTS: dict[str, str] = {
    # login, session and HTTP faults
    "logged_out": "TMS pages and CSVs answer the 'You need to be logged in' notice (HTTP 200)",
    "expire": "drop every TMS session (VALUE=all: portal sessions too), then answer the notice",
    "login_error": "login refused with 'Invalid username or password'",
    "otp": "login asks for a one-time password before home",
    "status": "answer HTTP VALUE (401, 403, 429, 500, …) instead of the page/CSV",
    "empty": "answer 200 with an empty body",
    "same_tab": "the tracker card opens the TMS in the same tab instead of a new one",
    # CSV shapes
    "header_only": "CSV with the header and no rows",
    "bom": "CSV starting with a UTF-8 byte-order mark",
    "no_newline": "CSV without a trailing newline",
    "duplicate_keys": "CSV repeating some dedupe keys (later rows differ)",
    "bad_values": "CSV rows with unparseable numbers and dates",
    "order_id": "undelivered CSV with `order_id` instead of `order_no`",
    "dates": "CSV dates as DD-MM-YYYY (VALUE=slash: DD/MM/YYYY)",
    # transfer faults
    "slow": "wait VALUE seconds (default 2) before answering",
    "truncated": "CSV cut off in the middle of its last row",
    "non_utf8": "CSV encoded as cp1252 with non-ASCII text (not valid UTF-8)",
    "extra_column": "CSV with an extra unknown column and upper-cased headers",
    "evil_filename": "Content-Disposition file name containing ../",
    "big": "CSV of about VALUE bytes (default 300000000) of repeated rows, streamed with a Content-Length",
    "big_chunked": "like big, but without a Content-Length (the size shows only while streaming)",
    "gzip_bomb": "gzip-encoded CSV inflating to VALUE bytes (default 1500000000), no Content-Length",
    "long_field": "CSV whose last row has a value of VALUE characters (default 200000)",
    # dashboard variants
    "missing_section": "dashboard without section VALUE (default Delivery)",
    "na_cells": "dashboard cells showing '-' and 'N/A'",
    "lakh": "dashboard amounts in lakh notation (₹ 2.45 L)",
    "bad_date": "dashboard date that cannot be parsed",
    "header_variants": "dashboard headers spelled differently (Previous Month, Target vs Ach., …)",
    "deep_dashboard": "dashboard figures wrapped in VALUE nested elements (default 3000)",
}

_SPEC_RE = re.compile(
    r"^(?P<name>[a-z_0-9]+)(?:@(?P<store>[A-Za-z0-9*]+))?(?:/(?P<endpoint>[a-z_0-9*]+))?"
    r"(?:=(?P<value>[^#]*))?(?:#(?P<times>\d+))?$"
)


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    name: str
    store: str = "*"
    endpoint: str = "*"
    value: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, name: str, store: str | None, endpoint: str) -> bool:
        return (
            self.name == name
            and (self.store == "*" or (store is not None and self.store == store.upper()))
            and (self.endpoint == "*" or self.endpoint == endpoint)
            and (self.times is None or self.hits < self.times)
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: str) -> Fault:
    match = _SPEC_RE.match(spec.strip())
    if match is None:
        raise FaultSpecError(f"fault {spec!r} is not NAME[@STORE][/ENDPOINT][=VALUE][#TIMES]")
    name = match["name"]
    if name not in FAULTS:
        raise FaultSpecError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
    return Fault(
        name=name,
        store=(match["store"] or "*").upper(),
        endpoint=match["endpoint"] or "*",
        value=match["value"],
        times=int(match["times"]) if match["times"] else None,
    )


class FaultBoard:
    """The active faults; thread-safe because tests switch faults while the server thread serves."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = list(faults or [])

    def add(self, fault: Fault | str) -> Fault:
        parsed = parse_fault(fault) if isinstance(fault, str) else fault
        with self._lock:
            self._faults.append(parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(self, name: str, store: str | None, endpoint: str) -> Fault | None:
        """The first active matching fault, counted as used once."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(name, store, endpoint):
                    fault.hits += 1
                    return fault
        return None
