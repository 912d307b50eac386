"""NDJSON event log with redaction of secrets and personal data.

Every event goes to stdout, optionally to `JSON_LOG_FILE`, and to the stdlib logger `crm.events`; inside a
Prefect run `tasks` attaches Prefect's API handler to that logger, so the same events reach the run's log.
On a terminal the stream gets one readable line per event; files, pipes and Prefect get NDJSON.
Events are a record for people and log tools only: a run's status comes from what its phases returned.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from crm_core.fsutil import open_private_append, private_dir

Status = Literal["ok", "info", "warn", "warning", "error"]

EVENT_LOGGER_NAME = "crm.events"
# The attribute of a `crm.events` log record that holds the (redacted) event itself.
EVENT_RECORD_ATTRIBUTE = "crm_event"
REDACTED = "***"

# Keys whose values are personal data wherever they appear (extras, counts, sample rows).
PERSONAL_KEYS = frozenset(
    {"customer_name", "name", "mobile_number", "mobile_no", "mobile", "phone", "customer_id", "email"}
)
# Indian mobiles: 10 digits starting 6-9, as written by people too (98765 43210, 98765-43210,
# 987-654-3210), optionally prefixed by +91/0091/91 or a trunk 0; not part of a longer number.
MOBILE_RE = re.compile(
    r"(?<![\d])(?:(?:\+|00)?91[\s-]?|0)?([6-9]\d{4}[\s-]?\d{5}|[6-9]\d{2}[\s-]?\d{3}[\s-]?\d{4})(?![\d])"
)
# Session material that HTTP client errors quote (Playwright's "Call log" lists request headers and the
# URLs it navigated, the TMS hand-off token among them): the value is masked, the name kept.
SESSION_HEADER_RE = re.compile(
    r"(?im)^([\s>*-]*(?:cookie|set-cookie|authorization|proxy-authorization|x-csrf-token)\s*:\s*).+$"
)
SESSION_PARAM_RE = re.compile(
    r"(?i)([?&](?:token|access_token|auth|password|sslpassword|passwd|pwd|session|sid|ci_session|tms_session)=)[^&\s'\"]+"
)
_SECRET_MIN_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_personal_values: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that every later log line, artifact and exception text hides it."""
    if value and len(value) >= _SECRET_MIN_LEN:
        with _lock:
            _secrets.add(value)


def register_personal(value: str | None) -> None:
    """Remember a personal value (a customer name seen in data) so free text never shows it."""
    if value and len(value.strip()) >= 3:
        with _lock:
            _personal_values.add(value.strip())


def mask_mobile(number: str) -> str:
    digits = re.sub(r"\D", "", number)[-10:]
    return f"{digits[:2]}******{digits[-2:]}" if len(digits) == 10 else REDACTED


def mask_name(name: str) -> str:
    name = name.strip()
    return f"{name[0]}***" if name else ""


def mask_url_secrets(text: str) -> str:
    """Hide the values of token/password/session query parameters in URLs."""
    return SESSION_PARAM_RE.sub(lambda m: m.group(1) + REDACTED, text)


def redact_text(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
        personal = sorted(_personal_values, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for value in personal:
        if value in text:
            text = text.replace(value, mask_name(value))
    text = mask_url_secrets(text)
    text = SESSION_HEADER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return MOBILE_RE.sub(lambda m: mask_mobile(m.group(1)), text)


def redact(value: Any, key: str | None = None) -> Any:
    """Redact recursively: personal keys are masked whole, strings are scrubbed of secrets and mobiles."""
    if key is not None and key.lower() in PERSONAL_KEYS and value not in (None, ""):
        text = str(value)
        return mask_mobile(text) if MOBILE_RE.search(text) else mask_name(text)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return value


def describe_exception(exc: BaseException) -> str:
    """`Type: message`, redacted: what an event or a summary may say about an error."""
    return redact_text(f"{type(exc).__name__}: {exc}")


class RedactingFilter(logging.Filter):
    """A stdlib logging filter: scrubs the message, its arguments and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def normalise_status(status: str) -> Literal["ok", "warning", "error"]:
    """warn/warning → warning, error → error, everything else → ok."""
    lowered = status.lower()
    if lowered in ("warn", "warning"):
        return "warning"
    if lowered == "error":
        return "error"
    return "ok"


_STATUS_COLOUR = {"warning": "\x1b[33m", "error": "\x1b[31m"}


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without a terminal
        return False


def human_line(record: Mapping[str, Any], *, colour: bool = False) -> str:
    """One readable line for a person at a terminal, from an already redacted event record:
    `12:01:03 download  ok    A668 missed_leads  export downloaded`."""
    try:
        stamp = datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00")).astimezone()
        clock = f"{stamp:%H:%M:%S}"
    except ValueError:
        clock = str(record["ts"])[:8]
    status = str(record["status"])
    shown = f"{status:<5}"
    tint = _STATUS_COLOUR.get(normalise_status(status)) if colour else None
    if tint:
        shown = f"{tint}{shown}\x1b[0m"
    where = " ".join(str(v) for v in (record.get("store_code"), record.get("bucket")) if v)
    message = str(record["message"])
    error = (record.get("extras") or {}).get("error")
    if error and str(error) not in message:
        message += f" ({error})"
    return f"{clock} {record['phase']:<9} {shown} {where:<18} {message}".rstrip()


@dataclass
class EventLogger:
    """Writes the events of one run. `events`, when given a list, also receives every event: a short
    command shows its warnings from it; a flow run passes none and so holds no events in memory."""

    run_id: str
    pipeline: str
    stream: IO[str] | None = field(default_factory=lambda: sys.stdout)
    file_path: Path | None = None
    events: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self._std = logging.getLogger(EVENT_LOGGER_NAME)
        if not any(isinstance(f, RedactingFilter) for f in self._std.filters):
            self._std.addFilter(RedactingFilter())
        if self.file_path is not None:
            private_dir(self.file_path.parent)

    def event(
        self,
        phase: str,
        status: Status,
        message: str,
        *,
        bucket: str | None = None,
        store_code: str | None = None,
        date: date | str | None = None,
        merged_file: str | Path | None = None,
        counts: Mapping[str, Any] | None = None,
        duration_ms: int | float | None = None,
        exc: BaseException | None = None,
        **extras: Any,
    ) -> dict[str, Any]:
        if exc is not None:
            extras["error"] = describe_exception(exc)
        record: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "phase": phase,
            "status": status,
            "message": redact_text(message),
            "bucket": bucket,
            "store_code": store_code,
            "date": date if date is None or isinstance(date, str) else date.isoformat(),
            "merged_file": str(merged_file) if merged_file is not None else None,
            "counts": redact(dict(counts)) if counts else None,
            "duration_ms": round(duration_ms) if duration_ms is not None else None,
            "extras": redact(extras) if extras else None,
        }
        line = json.dumps(record, default=_json_default, ensure_ascii=False)
        if self.events is not None:
            self.events.append(record)
        if self.stream is not None:
            tty = _is_tty(self.stream)
            print(human_line(record, colour=True) if tty else line, file=self.stream, flush=True)
        if self.file_path is not None:
            with open_private_append(self.file_path) as fh:
                fh.write((line + "\n").encode("utf-8"))
        level = {"warning": logging.WARNING, "error": logging.ERROR}.get(
            normalise_status(status), logging.INFO
        )
        where = " ".join(f"{k}={v}" for k, v in (("store", store_code), ("bucket", bucket)) if v)
        self._std.log(
            level,
            "[%s] %s%s",
            phase,
            record["message"],
            f" ({where})" if where else "",
            extra={EVENT_RECORD_ATTRIBUTE: record},  # the redacted event, for in-process listeners
        )
        return record

    @contextmanager
    def timed(self, phase: str, message: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Time a block; logs `message` with its duration (fields may be added to the yielded dict)."""
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        yield extra
        status = extra.pop("status", "ok")
        self.event(
            phase, status, message, duration_ms=(time.perf_counter() - started) * 1000, **fields, **extra
        )


def rotate_log(path: Path, max_bytes: int, keep: int, *, dry_run: bool = False) -> list[Path] | None:
    """Rotate the event log once it reaches `max_bytes`: `events.ndjson` becomes `events.ndjson.1`, the
    older generations shift up and the one past `keep` goes. Returns None when no rotation was due, else
    the generation deleted (or, dry run, that would be). A writer opens the file per event, so the next
    event starts a fresh file."""
    if not path.is_file() or path.stat().st_size < max_bytes:
        return None
    generations = [path.with_name(f"{path.name}.{n}") for n in range(1, keep + 1)]
    dropped = [generations[-1]] if generations[-1].exists() else []
    if dry_run:
        return dropped
    generations[-1].unlink(missing_ok=True)
    for n in range(keep - 1, 0, -1):
        if generations[n - 1].exists():
            generations[n - 1].replace(generations[n])
    path.replace(generations[0])
    return dropped
