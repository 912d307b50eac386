"""Bad input at scale: property-based tests (hypothesis) of the CSV reading, merge, validation and the
bucket load into PostgreSQL.

What every test here asserts, whatever the bytes: nothing but the product's own outcome comes out (merge
warnings naming the file, `InvalidExport` from the download check, reject lines naming file, line and
column); a well-formed export in any accepted encoding, quoting and line ending yields exactly its rows,
each with its physical line; and a bucket is stored whole or not at all.

Example counts come from the hypothesis profile (tests/conftest.py: `ci` by default).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import make_engine
from crm_core.exports import MISSED_LEADS, UNDELIVERED_ALL
from crm_core.ingest.bucket import process_bucket
from crm_core.ingest.merge import SOURCE_FILE, SOURCE_LINE, merge_bucket
from crm_core.ingest.validate import REJECT_COLUMNS, Validator, validate_row
from crm_core.json_logger import EventLogger
from crm_core.portal.files import InvalidExport, check_csv

DAY = date(2025, 11, 19)
# The vendor's own spelling of every column, in its order: the first accepted header of each.
VENDOR_HEADER = [column.accepted_headers[0] for column in MISSED_LEADS.columns]
NAME = MISSED_LEADS.file_name("A668")

# Free text as customers type it: any printable character, commas, quotes, tabs, CR/LF inside values.
# NUL is left to the database-level property below, which checks what happens to it end to end.
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
line_endings = st.sampled_from(["\n", "\r\n", "\r", "mixed"])


@dataclass
class Export:
    """A well-formed per-store export and what it holds, for comparing with what the merge read."""

    body: bytes
    names: list[str]  # customer_name per record, in file order
    notes: list[str]  # special_instruction per record
    start_lines: list[int]  # physical line each record starts on


def render(rows: list[list[str]], *, ending: str, quote_all: bool) -> tuple[str, list[int]]:
    """The CSV text of `rows` (header first) and each data record's first physical line."""
    out: list[str] = []
    starts: list[int] = []
    line = 1
    for index, row in enumerate(rows):
        buffer = io.StringIO()
        terminator = ending if ending != "mixed" else ("\r\n", "\n", "\r")[index % 3]
        # The csv module quotes only the line breaks of its own terminator: a LF inside a value of a
        # CR-terminated file would go out bare, which no reader can tell from a record's end.
        breaks = any("\n" in value or "\r" in value for value in row)
        csv.writer(
            buffer,
            quoting=csv.QUOTE_ALL if quote_all or breaks else csv.QUOTE_MINIMAL,
            lineterminator=terminator,
        ).writerow(row)
        record = buffer.getvalue()
        if index:
            starts.append(line)
        out.append(record)
        line += record.count("\n") + record.endswith("\r")  # line breaks inside values are LFs
    return "".join(out), starts


@st.composite
def exports(draw: st.DrawFn, encoding: str = "utf-8") -> Export:
    count = draw(st.integers(min_value=1, max_value=6))
    # Line breaks inside values are LFs: a CR there is a character, not a line, for the line numbers (and
    # Python's writer would leave a lone CR unquoted, which no exporter writing RFC 4180 does).
    names = [v.replace("\r", "") for v in draw(st.lists(free_text, min_size=count, max_size=count))]
    notes = [v.replace("\r", "") for v in draw(st.lists(free_text, min_size=count, max_size=count))]
    rows = [VENDOR_HEADER] + [
        [
            str(n + 1),
            f"98{n:08d}",
            f"P{n:04d}",
            "18-11-2025",
            "10:00:00",
            "A668",
            "Uttam Nagar",
            "2025-11-19",
            "10:00 AM - 12:00 PM",
            names[n],
            notes[n],
            "WhatsApp",
            "WhatsApp",
            "New",
            str(n % 2),
        ]
        for n in range(count)
    ]
    body, starts = render(rows, ending=draw(line_endings), quote_all=draw(st.booleans()))
    return Export(body.encode(encoding), names, notes, starts)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def merged_frame(body: bytes, tmp: Path) -> tuple[pl.DataFrame | None, list[str]]:
    folder = tmp / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NAME
    path.write_bytes(body)
    result = merge_bucket(MISSED_LEADS, {"A668": path}, tmp / "merged", DAY)
    if result.merged_path is None or result.merged_rows == 0:
        return None, result.warnings
    frame = pl.read_csv(result.merged_path, infer_schema=False)
    return frame, result.warnings


def as_read(value: str) -> str | None:
    return value or None  # an empty field is NULL in the merged frame


@given(export=exports(), bom=st.booleans())
def test_a_well_formed_export_gives_exactly_its_rows_and_lines(
    export: Export, bom: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + export.body
    frame, warnings = merged_frame(body, tmp_path_factory.mktemp("m"))
    assert warnings == []
    assert frame is not None
    assert frame["customer_name"].to_list() == [as_read(v) for v in export.names]
    assert frame["special_instruction"].to_list() == [as_read(v) for v in export.notes]
    assert frame[SOURCE_LINE].cast(pl.Int64).to_list() == export.start_lines
    assert set(frame[SOURCE_FILE].to_list()) == {NAME}


@given(export=exports(), accented=st.lists(st.sampled_from("éèàçñüöÉ£€"), min_size=1, max_size=5))
def test_a_cp1252_export_keeps_every_row_and_names_the_first_bad_line(
    export: Export, accented: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A spreadsheet saved as Windows-1252: every record still arrives, with one warning naming the file
    and the line of the first byte that is not UTF-8 (its characters replaced, nothing else lost)."""
    text_body = export.body.decode("utf-8")
    # Put the accented word in the first record's store name (a column nothing else depends on).
    word = "".join(accented)
    text_body = text_body.replace("Uttam Nagar", f"Uttam {word}", 1)
    body = text_body.encode("cp1252", errors="replace")
    # Some Windows-1252 texts are valid UTF-8 as well ("é££" is E9 A3 A3, U+E8E3): no reader can tell.
    assume(not _is_utf8(body))
    frame, warnings = merged_frame(body, tmp_path_factory.mktemp("m"))
    assert frame is not None and frame.height == len(export.names)
    # The first byte that is not UTF-8: usually in the accented word, but a run such as "É£" (C9 A3) is
    # valid UTF-8 itself, and then it is a later one.
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad_line = body[: exc.start].count(b"\n") + 1
    assert warnings == [
        f"{NAME}: not valid UTF-8 (first bad byte on line {first_bad_line}); "
        "undecodable bytes replaced by U+FFFD"
    ]
    assert frame[SOURCE_LINE].cast(pl.Int64).to_list() == export.start_lines


@given(export=exports(), extra=st.sampled_from(["id", "ID", "Customer Name", "store_code", "mobile number"]))
def test_a_repeated_header_keeps_the_first_column_and_warns(
    export: Export, extra: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A second column whose header maps to an already mapped one: the first wins, the rows are intact."""
    # The header ends at its first line break (it has no quoted ones); the records after it may hold
    # line breaks of any kind inside quoted values, so the body is not split on them.
    end = min(i for i in (export.body.find(b"\r"), export.body.find(b"\n")) if i >= 0)
    # The extra header's column is empty in every record (a trailing empty field).
    body = export.body[:end] + f",{extra}".encode() + export.body[end:]
    frame, warnings = merged_frame(body, tmp_path_factory.mktemp("m"))
    # Records that span lines get the empty field on their last line only when the file ends them; the
    # merge must either read the rows exactly or say the file could not be parsed, naming a line.
    if frame is None:
        assert any(w.startswith(f"{NAME}: ") for w in warnings)
        return
    assert frame["customer_name"].to_list() == [as_read(v) for v in export.names]
    assert any("already mapped by an earlier header" in w for w in warnings)


# Raw bytes: CSV punctuation, line endings, quotes, non-UTF-8 bytes, markup and header words, so that
# the generator hits the parser's edges often instead of producing mostly noise.
_PIECES = [
    b",",
    b";",
    b"\t",
    b'"',
    b'""',
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xe9",
    b"\x00",
    b"<html>",
    b"id",
    b"mobile_number",
    b"pickup_no",
    b"store_code",
    b"A668",
    b"9876543210",
    b"Asha Verma",
    b" ",
    b"1",
]
raw_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(_PIECES) | st.binary(max_size=3), max_size=60).map(b"".join),
    st.builds(
        lambda header, body: header + body,
        st.sampled_from([b",".join(h.encode() for h in VENDOR_HEADER) + b"\n", b""]),
        st.lists(st.sampled_from(_PIECES), max_size=80).map(b"".join),
    ),
)


@given(body=raw_bytes)
@example(
    body=b",".join(h.encode() for h in VENDOR_HEADER) + b"\r1,9876543210,P1,,,A668,,,,Asha Verma,,,,,1\r"
)
@example(body=b'id,mobile_number\n"1,2\n')
def test_any_bytes_merge_to_rows_or_a_warning_naming_the_file(
    body: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("m")
    folder = tmp / "downloads"
    folder.mkdir()
    path = folder / NAME
    path.write_bytes(body)
    result = merge_bucket(MISSED_LEADS, {"A668": path}, tmp / "merged", DAY)  # never raises on bad bytes
    assert path.read_bytes() == body  # the user's file is never changed
    header = re.split(rb"\r\n|\r|\n", body.removeprefix(b"\xef\xbb\xbf"))[0]
    for warning in result.warnings:
        assert warning.startswith(f"{NAME}: "), warning
        # Mobiles masked everywhere; a longer run of digits around one ("19876543210") is not a mobile.
        assert not re.search(r"(?<!\d)9876543210(?!\d)", warning)
        if b"Asha Verma" not in header:  # a header cell may be quoted, a data value never
            assert "Asha Verma" not in warning
    if result.merged_rows == 0:
        assert result.warnings, "a file that gave no rows must say why"
    else:
        frame = pl.read_csv(result.merged_path, infer_schema=False)  # type: ignore[arg-type]
        lines = frame[SOURCE_LINE].cast(pl.Int64).to_list()
        last_line = body.count(b"\n") + body.count(b"\r") + 1  # CR, LF and CRLF all end lines
        assert lines == sorted(lines) and all(1 < n <= last_line for n in lines)


check_bytes = raw_bytes


@given(body=check_bytes)
def test_the_download_check_accepts_or_raises_invalid_export_only(body: bytes) -> None:
    try:
        checked = check_csv(body, MISSED_LEADS)
    except InvalidExport as exc:
        assert exc.reason and "Asha Verma" not in exc.reason and "9876543210" not in exc.reason
        return
    assert checked.rows >= 0
    assert set(MISSED_LEADS.required_columns) <= {
        MISSED_LEADS.header_map().get(h.lower().replace(" ", "").replace("_", ""), "") for h in checked.header
    } | set(MISSED_LEADS.required_columns)


def test_a_huge_field_is_an_invalid_export_not_a_crash() -> None:
    # Where the value is named by row and column: tests/portal/test_exports_and_detection.py.
    header = ",".join(VENDOR_HEADER)
    small = "1,9876543210,P1,,,A668,,,,Asha,,,,,1"
    huge = "2,9876543211,P2,,,A668,,,,Asha," + "x" * 200_000 + ",,,,1"
    body = f"{header}\n{small}\n{huge}\n".encode()
    with pytest.raises(InvalidExport):
        check_csv(body, MISSED_LEADS)


def test_classic_mac_line_endings_are_read_as_lines_by_the_download_check() -> None:
    body = (",".join(VENDOR_HEADER) + "\r1,9876543210,P1,,,A668,,,,Asha,,,,,1\r").encode()
    assert check_csv(body, MISSED_LEADS).rows == 1


# --- validation ------------------------------------------------------------------------------------------

cell = st.one_of(
    st.none(),
    free_text,
    st.from_regex(r"\A[ ₹+-]?[0-9]{1,12}(,[0-9]{2,3}){0,3}(\.[0-9]{1,4})?[ ]?\Z"),
    st.from_regex(r"\A[0-9]{1,4}[-/][0-9]{1,2}[-/][0-9]{1,4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?\Z"),
    st.sampled_from(["", " ", "1", "0", "-0", "2147483647", "2147483648", "-2147483648", "1e3", "nan"]),
    st.sampled_from(["\x00", "A\x00", " 12\x00", "2025-11-19\x00"]),
)


@given(rows=st.lists(st.fixed_dictionaries({c: cell for c in UNDELIVERED_ALL.column_names}), max_size=8))
def test_vectorised_validation_agrees_with_the_row_model_and_names_every_reject(
    rows: list[dict[str, str | None]],
) -> None:
    """Both implementations of the rules give the same typed values on any text; every reject line names
    the file, the row's line and a registry column, never a value."""
    spec = UNDELIVERED_ALL
    batch = pl.DataFrame(rows, schema=dict.fromkeys(spec.column_names, pl.String))
    result = Validator(spec).validate(batch, file_name="merged.csv", line_offset=0)
    reference = [validate_row(spec, row) for row in rows]
    accepted = [r.row for r in reference if r.row is not None]
    assert result.valid.to_dicts() == accepted
    assert result.rejected_rows == sum(1 for r in reference if r.row is None)
    assert result.null_warnings == sum(r.null_warnings for r in reference if r.row is not None)
    assert tuple(result.rejects.columns) == REJECT_COLUMNS
    for reject in result.rejects.to_dicts():
        assert reject["file"] == "merged.csv" and reject["column"] in spec.column_names
        assert 2 <= reject["line"] <= len(rows) + 1


# --- the bucket load: all or nothing ---------------------------------------------------------------------

bad_value = st.sampled_from(["", "x", "12.5", "99999999999", "\x00", "Asha\x00Verma", "1e5", "٣"])


@st.composite
def store_files(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """Per store, data records with now and then a bad value in a random column."""
    files: dict[str, list[list[str]]] = {}
    for store in draw(
        st.lists(st.sampled_from(["A668", "A817", "B101"]), min_size=1, max_size=3, unique=True)
    ):
        records = []
        for n in range(draw(st.integers(min_value=0, max_value=5))):
            # Pickup numbers repeat now and then: the bucket de-duplicates its keys.
            row = record(n + 1, store, pickup_no=f"P{draw(st.integers(min_value=0, max_value=6)):04d}")
            if draw(st.integers(min_value=0, max_value=3)) == 0:
                row[draw(st.integers(min_value=0, max_value=len(row) - 1))] = draw(bad_value)
            records.append(row)
        files[store] = records
    return files


def record(n: int, store: str, **values: str) -> list[str]:
    row = dict(
        zip(
            VENDOR_HEADER,
            [
                str(n),
                f"97{n:08d}",
                f"P{n:04d}",
                "18-11-2025",
                "10:00:00",
                store,
                f"Store {store}",
                "2025-11-19",
                "10:00 AM - 12:00 PM",
                "Kavya Rao",
                "",
                "WhatsApp",
                "WhatsApp",
                "New",
                "1",
            ],
            strict=True,
        )
    )
    return list((row | values).values())


@pytest.mark.postgres
@given(data=store_files())
@example(
    data={"A668": [record(1, "A668"), record(2, "A668", customer_name="Asha\x00Verma"), record(3, "A668")]}
)
@example(
    data={"A668": [record(1, "A668"), record(2, "A668", pickup_no="P\x00")], "A817": [record(1, "A817")]}
)
async def test_a_bucket_is_stored_whole_or_not_at_all(
    data: dict[str, list[list[str]]], pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine: AsyncEngine = make_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE missed_leads"))
        folder = tmp_path_factory.mktemp("bucket")
        files: dict[str, Path] = {}
        for store, records in data.items():
            body, _ = render([VENDOR_HEADER, *records], ending="\r\n", quote_all=False)
            files[store] = folder / MISSED_LEADS.file_name(store)
            files[store].write_bytes(body.encode())
        outcome = await process_bucket(
            engine,
            MISSED_LEADS,
            files,
            work_dir=folder,
            report_date=DAY,
            run_id="prop-run",
            batch_size=2,  # several batches per bucket: a late failure must undo the early ones
            logger=EventLogger(run_id="prop-run", pipeline="test", stream=None, events=[]),
            dry_run=False,
        )
        async with engine.connect() as conn:
            stored = int((await conn.execute(text("SELECT count(*) FROM missed_leads"))).scalar_one())
        if outcome.verdict == "error":
            assert stored == 0, outcome.reason
            assert all(p.exists() for p in files.values())  # kept for a rerun
            assert outcome.reason.startswith("missed_leads")
        else:
            assert outcome.ingest is not None
            assert stored == outcome.ingest.ingested_rows
            assert stored == outcome.ingest.merged_rows - outcome.ingest.rejected_rows
            if outcome.ingest.rejected_rows:
                assert all(p.exists() for p in files.values())  # a warning keeps every file
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_nul_character_rejects_its_row_or_nulls_its_value_not_the_bucket(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL text cannot hold U+0000: such a value used to fail the whole bucket, day after day."""
    engine = make_engine(pg_url)
    try:
        rows = [
            record(1, "A668"),
            record(2, "A668", customer_name="Asha\x00Verma"),  # optional column: NULL, a warning
            record(3, "A668", pickup_no="P\x000003"),  # a key: the row is rejected
            record(4, "A668"),
        ]
        body, _ = render([VENDOR_HEADER, *rows], ending="\r\n", quote_all=False)
        path = tmp_path / NAME
        path.write_bytes(body.encode())
        outcome = await process_bucket(
            engine,
            MISSED_LEADS,
            {"A668": path},
            work_dir=tmp_path,
            report_date=DAY,
            run_id="nul-run",
            batch_size=2,
            logger=EventLogger(run_id="nul-run", pipeline="test", stream=None, events=[]),
            dry_run=False,
        )
        assert outcome.verdict == "warn", outcome.reason
        assert outcome.ingest is not None
        assert (outcome.ingest.ingested_rows, outcome.ingest.rejected_rows) == (3, 1)
        assert outcome.ingest.null_warnings == 1
        assert outcome.ingest.rejects_path is not None
        rejects = outcome.ingest.rejects_path.read_text(encoding="utf-8").splitlines()
        assert rejects[1:] == [f"{NAME},4,pickup_no,contains a NUL character (the database cannot store it)"]
        async with engine.connect() as conn:
            names = (
                await conn.execute(text("SELECT pickup_no, customer_name FROM missed_leads ORDER BY 1"))
            ).all()
        assert [tuple(r) for r in names] == [("P0001", "Kavya Rao"), ("P0002", None), ("P0004", "Kavya Rao")]
    finally:
        await engine.dispose()
