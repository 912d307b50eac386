from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from crm_core.json_logger import (
    EventLogger,
    RedactingFilter,
    describe_exception,
    normalise_status,
    redact,
    redact_text,
    register_personal,
    register_secret,
)

SECRET = "Sentinel-Secret-4242"
MOBILE = "9876543210"
NAME = "Sentinelname Kumar"

FIELDS = {"ts", "run_id", "pipeline", "phase", "bucket", "store_code", "date", "merged_file", "counts"}
FIELDS |= {"status", "message", "duration_ms", "extras"}


@pytest.fixture
def log(tmp_path: Path) -> tuple[EventLogger, io.StringIO]:
    stream = io.StringIO()
    return EventLogger(
        "run-1", "dashboard_daily", stream=stream, file_path=tmp_path / "logs" / "a.jsonl"
    ), stream


def test_event_has_every_field_and_goes_to_stdout_and_file(log: tuple[EventLogger, io.StringIO]) -> None:
    logger, stream = log
    logger.event("ingest", "ok", "bucket ingested", bucket="missed_leads", counts={"merged_rows": 3})
    line = json.loads(stream.getvalue())
    assert set(line) == FIELDS
    assert line["run_id"] == "run-1" and line["counts"] == {"merged_rows": 3}
    assert line["ts"].endswith("Z")
    assert logger.file_path is not None
    assert json.loads(logger.file_path.read_text()) == line


def test_secrets_mobiles_and_names_never_appear(log: tuple[EventLogger, io.StringIO]) -> None:
    logger, stream = log
    register_secret(SECRET)
    register_personal(NAME)
    try:
        raise RuntimeError(f"login failed with password {SECRET} for {MOBILE}")
    except RuntimeError as exc:
        logger.event(
            "download",
            "error",
            f"failed for +91 {MOBILE} / {NAME} using {SECRET}",
            exc=exc,
            sample={"customer_name": "Ravi", "mobile_number": MOBILE, "note": f"call {MOBILE}"},
            nested=[f"x{SECRET}x"],
        )
    output = stream.getvalue() + (logger.file_path.read_text() if logger.file_path else "")
    for sentinel in (SECRET, MOBILE, NAME, "Ravi"):
        assert sentinel not in output
    event = json.loads(stream.getvalue())
    assert "98******10" in event["message"]
    assert event["extras"]["sample"]["customer_name"] == "R***"
    assert event["extras"]["error"].startswith("RuntimeError: login failed with password ***")


def test_stdlib_records_are_redacted_including_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(SECRET)
    logger = logging.getLogger("crm.test.redaction")
    logger.addFilter(RedactingFilter())
    try:
        raise ValueError(f"bad {SECRET} {MOBILE}")
    except ValueError:
        with caplog.at_level(logging.INFO):
            logger.exception("while handling %s", SECRET)
    text = caplog.text
    assert SECRET not in text and MOBILE not in text
    assert "ValueError" in text


def test_events_also_reach_the_stdlib_logger(
    log: tuple[EventLogger, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    logger, _ = log
    with caplog.at_level(logging.INFO, logger="crm.events"):
        logger.event("merge", "warn", "unknown column skipped", bucket="missed_leads")
    record = caplog.records[-1]
    assert record.levelno == logging.WARNING
    assert "unknown column skipped" in record.getMessage() and "bucket=missed_leads" in record.getMessage()


def test_events_are_written_not_kept_unless_a_list_is_given(log: tuple[EventLogger, io.StringIO]) -> None:
    logger, stream = log
    for i in range(3):
        logger.event("download", "warn", f"slow {i}", store_code="A668")
    assert logger.events is None  # a long run holds nothing in memory
    assert len(stream.getvalue().splitlines()) == 3
    kept = EventLogger("run-2", "dashboard_daily", stream=None, events=[])
    with kept.timed("report", "rendered") as extra:
        extra["status"] = "warning"
    assert kept.events is not None and kept.events[-1]["status"] == "warning"
    assert kept.events[-1]["duration_ms"] is not None


def test_normalise_status_and_helpers() -> None:
    assert [normalise_status(s) for s in ("warn", "WARNING", "error", "info", "ok")] == [
        "warning",
        "warning",
        "error",
        "ok",
        "ok",
    ]
    assert redact({"phone": "9123456789", "rows": 3}) == {"phone": "91******89", "rows": 3}
    assert describe_exception(KeyError("k")) == "KeyError: 'k'"


@pytest.mark.parametrize(
    "written",
    ["98765 43210", "98765-43210", "987-654-3210", "09876543210", "+91-98765-43210", "+91 9876543210"],
)
def test_mobile_numbers_as_people_write_them_are_masked(written: str) -> None:
    text = redact_text(f"call back on {written} today")
    assert "543210" not in text and "43210" not in text and "98******10" in text


def test_numbers_that_are_not_mobiles_stay() -> None:
    text = "order 12345678, amount 1,23,456.00, pickup 2025-11-19, id 5876543210"
    assert redact_text(text) == text


def test_session_material_in_http_client_errors_is_masked() -> None:
    call_log = (
        "TimeoutError: APIRequestContext.get: Timeout 1500ms exceeded.\nCall log:\n"
        "  - → GET http://127.0.0.1:41415/mis/download_csv?store_code=A668\n"
        "    - cookie: ci_session=j_ZeoWDJM5; tms_session=twWIpM_i7T8\n"
        "    - authorization: Bearer abc.def\n"
        '  - navigating to "http://127.0.0.1:5/tms/auth?token=Hand-Off-77&next=/"'
    )
    text = describe_exception(RuntimeError(call_log))
    for secret in ("j_ZeoWDJM5", "twWIpM_i7T8", "abc.def", "Hand-Off-77"):
        assert secret not in text
    assert "cookie: ***" in text and "token=***&next=/" in text and "store_code=A668" in text


def _read_pty(fd: int) -> str:
    import os
    import select

    chunks: list[bytes] = []
    while select.select([fd], [], [], 0.5)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8")


def test_a_terminal_gets_one_readable_line_and_the_file_ndjson(tmp_path: Path) -> None:
    import os
    import pty

    register_secret(SECRET)
    register_personal(NAME)
    primary, secondary = pty.openpty()
    with os.fdopen(secondary, "w", encoding="utf-8", closefd=True) as terminal:
        logger = EventLogger("run-1", "dashboard_daily", stream=terminal, file_path=tmp_path / "a.jsonl")
        logger.event(
            "download",
            "ok",
            f"export downloaded (412 rows) for {NAME} +91 {MOBILE} using {SECRET}",
            store_code="A668",
            bucket="missed_leads",
            sample={"customer_name": "Ravi"},
        )
        logger.event("audit", "warn", "audit warn: 1 row(s) rejected", bucket="missed_leads")
        shown = _read_pty(primary)
    os.close(primary)
    lines = [line for line in shown.replace("\r", "").split("\n") if line]
    assert len(lines) == 2, shown
    first = lines[0]
    assert "{" not in first and '"run_id"' not in first
    assert " download  ok    A668 missed_leads" in first and "export downloaded (412 rows)" in first
    assert first[2] == ":" and first[5] == ":"  # HH:MM:SS first
    assert "audit" in lines[1] and "warn" in lines[1] and "1 row(s) rejected" in lines[1]
    for sentinel in (SECRET, MOBILE, NAME, "Ravi"):
        assert sentinel not in shown
    assert "98******10" in first
    written = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in written] == ["download", "audit"]
    assert SECRET not in json.dumps(written) and MOBILE not in json.dumps(written)


def test_a_pipe_gets_ndjson(tmp_path: Path) -> None:
    import os

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
        EventLogger("run-1", "dashboard_daily", stream=pipe).event("download", "ok", "export downloaded")
    with os.fdopen(read_end, encoding="utf-8") as reader:
        record = json.loads(reader.read())
    assert record["phase"] == "download" and record["message"] == "export downloaded"
