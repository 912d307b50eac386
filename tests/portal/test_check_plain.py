"""The download check's fast walk of a quote-free export agrees with the csv module's walk record for record
(hypothesis): same header, row count and fields of the last row, or the same refusal."""

from __future__ import annotations

import io

from hypothesis import example, given
from hypothesis import strategies as st

from crm_core.exports import get_export
from crm_core.portal.files import InvalidExport, _walk_plain, _walk_records

SPEC = get_export("repeat_customers")
HEADER = ",".join(SPEC.column_names)
# Commas, ASCII and Unicode blanks, non-ASCII letters and every line break the csv module knows.
PIECES = st.sampled_from(
    ["a", "1", "é", ",", " ", "\t", "\x0b", "\u00a0", "\u3000", "\x1c", "\n", "\r\n", "\r"]
)


def outcome(walk: object) -> object:
    try:
        return walk() if callable(walk) else walk
    except InvalidExport as exc:
        return exc.reason


def both(raw: bytes, chunk: int) -> tuple[object, object]:
    plain = outcome(lambda: _walk_plain(io.BytesIO(raw), SPEC, chunk))
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", errors="replace", newline="")
    return plain, outcome(lambda: _walk_records(text, SPEC))


@given(
    before=st.lists(PIECES, max_size=8),
    after=st.lists(PIECES, max_size=80),
    bom=st.booleans(),
    chunk=st.integers(1, 64),
)
@example(before=[], after=["\r", ",", "\n", "a", "\r"], bom=False, chunk=len(HEADER) + 2)
@example(before=[" ", ",", "\r\n"], after=["\u3000", ",", "\n", "a"], bom=True, chunk=3)
def test_the_fast_walk_agrees_with_the_csv_walk(
    before: list[str], after: list[str], bom: bool, chunk: int
) -> None:
    raw = ("\ufeff" if bom else "") + "".join(before) + HEADER + "\n" + "".join(after)
    plain, walked = both(raw.encode(), chunk)
    assert plain == walked


def test_a_file_without_header_columns_is_refused_alike() -> None:
    plain, walked = both(b"x,y\n1,2\n", 1 << 20)
    assert isinstance(plain, str) and plain == walked
    assert "missing required columns" in plain
