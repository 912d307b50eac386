"""Store codes are ASCII letters then digits, checked on the way in and again where one names a file."""

from __future__ import annotations

import pytest

from crm_core.exports import enabled_exports
from crm_core.store_codes import InvalidStoreCode, checked_file_code, checked_store_code, normalise_store_code

BAD = ["../../x", "A٦٦٨", "Ａ668", "A668/..", "A 668", "A668\x00", "ABCD1", "A123456", "", "ALL", "A668?x=1"]


def test_valid_codes_are_normalised() -> None:
    assert normalise_store_code(" a668 ") == "A668"
    assert checked_store_code("XYZ12345") == "XYZ12345"
    assert checked_file_code("ALL") == "ALL"


@pytest.mark.parametrize("code", BAD)
def test_anything_else_is_refused_everywhere(code: str) -> None:
    with pytest.raises(InvalidStoreCode, match="is not valid"):
        normalise_store_code(code)
    with pytest.raises(InvalidStoreCode):
        checked_store_code(code)
    for spec in enabled_exports():
        with pytest.raises(InvalidStoreCode):
            spec.file_name(code)
        with pytest.raises(InvalidStoreCode):
            spec.url(code)


def test_checked_codes_are_not_normalised_silently() -> None:
    """Where a code names a file it must already be the stored, normalised form."""
    with pytest.raises(InvalidStoreCode):
        checked_store_code("a668")
    with pytest.raises(InvalidStoreCode):
        checked_store_code("A668\n")
