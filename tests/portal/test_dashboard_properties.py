"""The dashboard number parser and page parser on any input (hypothesis): a figure, None or a
`NumberError`, never another exception; and every figure the portal can print reads back exactly."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from crm_core.dashboard import COUNT_MAX, SECTIONS, MetricKind
from crm_core.portal.dashboard_parser import NumberError, parse_dashboard, parse_number

kinds = st.sampled_from(["money", "pct", "count"])
number_like = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789.,-+₹% LCrlakhs/\u2212\u00a0", max_size=40),
    st.from_regex(r"\A[0-9]{20,60}(\.[0-9]{1,40})?\Z"),
)


@given(text=number_like, kind=kinds)
@example(text="1" * 5000, kind="money")
@example(text="9" * 29 + ".5", kind="pct")
@example(text="1" * 40, kind="count")
def test_any_cell_is_a_figure_none_or_a_number_error(text: str, kind: MetricKind) -> None:
    try:
        value = parse_number(text, kind)
    except NumberError as exc:
        assert str(exc).startswith(("not a number: ", "not a whole count: "))
        return
    if kind == "count":
        assert value is None or isinstance(value, int)
    else:
        assert value is None or (isinstance(value, Decimal) and value == value.quantize(Decimal("0.01")))


def indian(n: int) -> str:
    """1,23,45,678: the last three digits, then groups of two."""
    digits = str(n)
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([g for g in [head, *groups] if g] + [tail]) if head or groups else tail


@given(
    rupees=st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1),
    paise=st.integers(min_value=0, max_value=99),
    style=st.sampled_from(["₹ {}", "₹{}", "Rs {}/-", "{}", " {} "]),
)
def test_every_money_figure_reads_back_exactly(rupees: int, paise: int, style: str) -> None:
    sign = "-" if rupees < 0 else ""
    shown = style.format(f"{sign}{indian(abs(rupees))}.{paise:02d}")
    expected = Decimal(f"{sign}{abs(rupees)}.{paise:02d}")
    assert parse_number(shown, "money") == expected


@given(count=st.integers(min_value=0, max_value=COUNT_MAX), label=st.sampled_from(["", " View", " orders"]))
def test_every_count_reads_back_exactly(count: int, label: str) -> None:
    assert parse_number(f"{count:,}{label}", "count") == count


_TAGS = ["<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "</th>", "<div>", "</div>", "<h3>"]
_WORDS = [*SECTIONS, "Revenue MTD", "Target", "₹ 1,200", "41 View", "N/A", "-", "12.5%", "Store Code", "x"]


@given(pieces=st.lists(st.sampled_from(_TAGS + _WORDS) | st.text(max_size=5), max_size=120))
def test_any_page_gives_figures_and_warnings_never_an_exception(pieces: list[str]) -> None:
    figures = parse_dashboard("".join(pieces), "A668")
    assert figures.store_code == "A668"
    assert all(not isinstance(v, float) for v in figures.metrics.values())
