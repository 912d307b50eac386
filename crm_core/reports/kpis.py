"""KPI bands, scores, overall health, recommendations and snapshot change notes (DOMAIN B7.3, B7.4).

Pure functions over plain values, so the rules are testable without a database or a PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from crm_core.reports.formatting import (
    Number,
    format_count,
    format_delta,
    format_pct,
    round_half_up,
    to_decimal,
)

BandKey = Literal["excellent", "good", "warning", "critical", "missing"]
Tone = Literal["positive", "negative", "neutral"]

# B7.3 colours.
COLOURS: dict[BandKey, str] = {
    "excellent": "#20bf6b",
    "good": "#2d98da",
    "warning": "#f39c12",
    "critical": "#e74c3c",
    "missing": "#7f8c8d",
}
TONE_COLOURS: dict[Tone, str] = {"positive": "#20bf6b", "negative": "#e74c3c", "neutral": "#1c1c1c"}


@dataclass(frozen=True)
class Band:
    label: str
    key: BandKey
    score: int | None

    @property
    def colour(self) -> str:
        return COLOURS[self.key]

    @property
    def is_positive(self) -> bool:
        return self.key in ("excellent", "good")

    @property
    def is_concern(self) -> bool:
        return self.key in ("warning", "critical")


EXCELLENT = Band("Excellent", "excellent", 100)
GOOD = Band("Good", "good", 80)
NEEDS_ATTENTION = Band("Needs Attention", "warning", 55)
CRITICAL = Band("Critical", "critical", 35)
NO_DATA = Band("No Data", "missing", None)


def higher_is_better(excellent: int, good: int, attention: int) -> Callable[[Decimal], Band]:
    def band(value: Decimal) -> Band:
        if value >= excellent:
            return EXCELLENT
        if value >= good:
            return GOOD
        if value >= attention:
            return NEEDS_ATTENTION
        return CRITICAL

    return band


def _undelivered_over_10_band(value: Decimal) -> Band:
    # B7.3: 0 → Excellent, 1–2 → Needs Attention, ≥ 3 → Critical (there is no Good band).
    if value <= 0:
        return EXCELLENT
    if value < 3:
        return NEEDS_ATTENTION
    return CRITICAL


def _total_undelivered_band(value: Decimal) -> Band:
    # B7.3: ≤ 2 → Excellent, 3–5 → Good, > 5 → Needs Attention (never Critical).
    if value <= 2:
        return EXCELLENT
    if value <= 5:
        return GOOD
    return NEEDS_ATTENTION


@dataclass(frozen=True)
class KpiSpec:
    key: str
    label: str
    kind: Literal["pct", "count"]
    band_of: Callable[[Decimal], Band]


# The seven primary KPIs of B7.3, in the order the report prints them. Keys are the context names of B7.2.
PRIMARY_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("pickup_conversion_total_pct", "Pickup conversion (total)", "pct", higher_is_better(82, 70, 55)),
    KpiSpec("pickup_conversion_new_pct", "Pickup conversion (new)", "pct", higher_is_better(80, 60, 45)),
    KpiSpec(
        "pickup_conversion_existing_pct", "Pickup conversion (existing)", "pct", higher_is_better(95, 80, 70)
    ),
    KpiSpec("delivery_tat_pct", "Delivery within TAT", "pct", higher_is_better(95, 85, 70)),
    KpiSpec("undelivered_10_plus_count", "Undelivered >10 days", "count", _undelivered_over_10_band),
    KpiSpec("undelivered_total_count", "Total undelivered orders", "count", _total_undelivered_band),
    KpiSpec("repeat_customer_pct", "Repeat customer contribution", "pct", higher_is_better(65, 50, 35)),
)
KPI_BY_KEY = {spec.key: spec for spec in PRIMARY_KPIS}


@dataclass(frozen=True)
class KpiResult:
    spec: KpiSpec
    value: Decimal | None
    band: Band

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def display(self) -> str:
        return format_pct(self.value) if self.spec.kind == "pct" else format_count(self.value)


def evaluate_kpi(key: str, value: Number | None) -> KpiResult:
    spec = KPI_BY_KEY[key]
    dec = to_decimal(value)
    return KpiResult(spec, dec, NO_DATA if dec is None else spec.band_of(dec))


def evaluate_kpis(values: Mapping[str, Number | None]) -> list[KpiResult]:
    """All seven KPIs in report order; a key absent from `values` counts as missing."""
    return [evaluate_kpi(spec.key, values.get(spec.key)) for spec in PRIMARY_KPIS]


# --- overall health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    score: int
    label: str
    key: BandKey
    summary: str
    kpis_scored: int

    @property
    def colour(self) -> str:
        return COLOURS[self.key]


HEALTH_LEVELS: tuple[tuple[int, str, BandKey, str], ...] = (
    (
        90,
        "Excellent",
        "excellent",
        "Operations delivered above plan with strong conversion and service levels.",
    ),
    (75, "Stable", "good", "Overall performance was stable with minor optimisations available."),
    (60, "At Risk", "warning", "Mixed performance today – a few KPIs require closer monitoring tomorrow."),
    (0, "Critical", "critical", "Multiple KPIs triggered alerts; immediate follow-up is required."),
)
NO_DATA_SUMMARY = "Insufficient dashboard data available for this store on the selected date."


def overall_health(results: Sequence[KpiResult]) -> Health:
    """Rounded (half-up) mean of the non-missing KPI scores; the label follows the rounded score."""
    scores = [r.band.score for r in results if r.band.score is not None]
    if not scores:
        return Health(0, "No Data", "warning", NO_DATA_SUMMARY, 0)
    score = int(round_half_up(Decimal(sum(scores)) / len(scores)))
    for threshold, label, key, summary in HEALTH_LEVELS:
        if score >= threshold:
            return Health(score, label, key, summary, len(scores))
    raise AssertionError("unreachable: the last health level has threshold 0")


# --- recommendations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendations:
    highlights: list[str]
    focus_areas: list[str]
    actions: list[str]


DEFAULT_HIGHLIGHT = "No standout wins logged – maintain steady execution tomorrow."
DEFAULT_FOCUS = "Operations were stable with no major risk signals."
DEFAULT_ACTION = "Continue standard playbook reviews with the on-duty manager."

# (kpi key, highlight when Excellent/Good, focus + action when Needs Attention/Critical); table order of B7.4.
_HIGHLIGHT_RULES: tuple[tuple[str, str], ...] = (
    (
        "pickup_conversion_total_pct",
        "Lead-to-pickup conversion held strong today, indicating solid front-desk execution.",
    ),
    ("delivery_tat_pct", "Delivery turnaround time stayed on track with most orders delivered within TAT."),
    ("repeat_customer_pct", "Repeat customers contributed meaningfully, showing healthy loyalty."),
)
_CONCERN_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "pickup_conversion_total_pct",
        "Pickup conversion dipped – review lead quality and outbound follow-ups.",
        "Audit today's leads and coach the team on callbacks to lift conversion.",
    ),
    (
        "undelivered_total_count",
        "Undelivered order backlog is elevated.",
        "Run an escalation huddle with the delivery team; prioritise oldest cases first.",
    ),
    (
        "undelivered_10_plus_count",
        "Orders pending beyond 10 days require urgent intervention.",
        "Call customers with >10 day delays and align revised ETAs by 11am tomorrow.",
    ),
    (
        "repeat_customer_pct",
        "Repeat customer contribution softened today.",
        "Plan a targeted WhatsApp nudge to the last 30 repeat buyers with offers.",
    ),
)


def recommendations(results: Sequence[KpiResult]) -> Recommendations:
    bands = {r.spec.key: r.band for r in results}
    highlights = [text for key, text in _HIGHLIGHT_RULES if key in bands and bands[key].is_positive]
    focus: list[str] = []
    actions: list[str] = []
    for key, focus_text, action_text in _CONCERN_RULES:
        if key in bands and bands[key].is_concern:
            focus.append(focus_text)
            actions.append(action_text)
    return Recommendations(
        highlights or [DEFAULT_HIGHLIGHT], focus or [DEFAULT_FOCUS], actions or [DEFAULT_ACTION]
    )


# --- operating snapshot ---------------------------------------------------------------------------------

NOTE_NO_CURRENT = "No data captured for this metric today."
NOTE_NO_PREVIOUS = "No previous data available for comparison yet."
NOTE_FLAT = "Flat versus the previous data point."
NOTE_COUNTER_RESTARTED = "New month: the month-to-date count restarted, so no day-on-day change."
FLAT_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class SnapshotChange:
    previous: Decimal | None
    current: Decimal | None
    delta: Decimal | None
    note: str
    tone: Tone

    @property
    def delta_text(self) -> str:
        return format_delta(self.delta)

    @property
    def colour(self) -> str:
        return TONE_COLOURS[self.tone]


def snapshot_change(
    previous: Number | None, current: Number | None, *, counter_restarted: bool = False
) -> SnapshotChange:
    """B7.4 change note; every snapshot metric is "higher is better"."""
    prev, cur = to_decimal(previous), to_decimal(current)
    if cur is None:
        return SnapshotChange(prev, cur, None, NOTE_NO_CURRENT, "neutral")
    if counter_restarted:
        return SnapshotChange(prev, cur, None, NOTE_COUNTER_RESTARTED, "neutral")
    if prev is None:
        return SnapshotChange(prev, cur, None, NOTE_NO_PREVIOUS, "neutral")
    delta = cur - prev
    if abs(delta) <= FLAT_TOLERANCE:
        return SnapshotChange(prev, cur, delta, NOTE_FLAT, "neutral")
    amount = round_half_up(abs(delta), 1)
    if delta > 0:
        return SnapshotChange(
            prev, cur, delta, f"Up by {amount} compared to the previous report.", "positive"
        )
    return SnapshotChange(prev, cur, delta, f"Down by {amount} compared to the previous report.", "negative")
