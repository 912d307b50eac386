"""KPI bands, scores, overall health, recommendations and snapshot change notes.

Pure functions over plain values, so the rules are testable without a database or a PDF. A KPI value may be
one day's figure or a period average: bands, scores and health treat both alike, and `summarise_kpi` adds the
period view (average, best and worst day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from crm_core.reports.formatting import (
    Number,
    format_delta,
    format_number,
    format_pct,
    round_half_up,
    to_decimal,
)

BandKey = Literal["excellent", "good", "warning", "critical", "missing"]
Tone = Literal["positive", "negative", "neutral"]

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


@dataclass(frozen=True)
class _Thresholds:
    """Bands of a KPI where higher is better. An object rather than a closure, so that report data holding
    it can be sent to the processes that draw PDFs."""

    excellent: int
    good: int
    attention: int

    def __call__(self, value: Decimal) -> Band:
        if value >= self.excellent:
            return EXCELLENT
        if value >= self.good:
            return GOOD
        if value >= self.attention:
            return NEEDS_ATTENTION
        return CRITICAL


def higher_is_better(excellent: int, good: int, attention: int) -> Callable[[Decimal], Band]:
    return _Thresholds(excellent, good, attention)


def _undelivered_over_10_band(value: Decimal) -> Band:
    # 0 → Excellent, 1–2 → Needs Attention, ≥ 3 → Critical (there is no Good band).
    if value <= 0:
        return EXCELLENT
    if value < 3:
        return NEEDS_ATTENTION
    return CRITICAL


def _total_undelivered_band(value: Decimal) -> Band:
    # ≤ 2 → Excellent, 3–5 → Good, > 5 → Needs Attention (never Critical).
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
    # Which way is better, to pick a period's best and worst day.
    higher_is_better: bool = True


# The seven primary KPIs, in the order the reports print them.
PRIMARY_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("pickup_conversion_total_pct", "Pickup conversion (total)", "pct", higher_is_better(82, 70, 55)),
    KpiSpec("pickup_conversion_new_pct", "Pickup conversion (new)", "pct", higher_is_better(80, 60, 45)),
    KpiSpec(
        "pickup_conversion_existing_pct", "Pickup conversion (existing)", "pct", higher_is_better(95, 80, 70)
    ),
    KpiSpec("delivery_tat_pct", "Delivery within TAT", "pct", higher_is_better(95, 85, 70)),
    KpiSpec(
        "undelivered_10_plus_count",
        "Undelivered >10 days",
        "count",
        _undelivered_over_10_band,
        higher_is_better=False,
    ),
    KpiSpec(
        "undelivered_total_count",
        "Total undelivered orders",
        "count",
        _total_undelivered_band,
        higher_is_better=False,
    ),
    KpiSpec("repeat_customer_pct", "Repeat customer contribution", "pct", higher_is_better(65, 50, 35)),
)
KPI_BY_KEY = {spec.key: spec for spec in PRIMARY_KPIS}

# The dashboard column (`store_dashboard_summary`) each KPI is read from, for a day's value.
KPI_DASHBOARD_COLUMNS: dict[str, str] = {
    "pickup_conversion_total_pct": "pickup_total_conv_pct",
    "pickup_conversion_new_pct": "pickup_new_conv_pct",
    "pickup_conversion_existing_pct": "pickup_existing_conv_pct",
    "delivery_tat_pct": "delivery_tat_pct",
    "undelivered_10_plus_count": "delivery_undel_over_10_days",
    "undelivered_total_count": "delivery_total_undelivered",
    "repeat_customer_pct": "repeat_total_base_pct",
}


def kpi_values_from_dashboard(values: Mapping[str, Number | None]) -> dict[str, Number | None]:
    """One day's inputs of the seven primary KPIs from that day's dashboard figures."""
    return {key: values.get(column) for key, column in KPI_DASHBOARD_COLUMNS.items()}


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
        return format_kpi(self.spec, self.value)


def format_kpi(spec: KpiSpec, value: Number | None) -> str:
    """'69%' for a percentage; a count prints whole, a period average of a count with one decimal."""
    return format_pct(value) if spec.kind == "pct" else format_number(value)


def kpi_value(spec: KpiSpec, value: Number | None) -> Decimal | None:
    """The value as a Decimal; a percentage outside 0–100 is an impossible figure from the source (e.g. more
    deliveries within turnaround than orders), so it counts as missing — "N/A", never a silent "111%"."""
    dec = to_decimal(value)
    if dec is not None and spec.kind == "pct" and not 0 <= dec <= 100:
        return None
    return dec


def evaluate_kpi(key: str, value: Number | None) -> KpiResult:
    spec = KPI_BY_KEY[key]
    dec = kpi_value(spec, value)
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


HEALTH_LEVELS: tuple[tuple[int, str, BandKey], ...] = (
    (90, "Excellent", "excellent"),
    (75, "Stable", "good"),
    (60, "At Risk", "warning"),
    (0, "Critical", "critical"),
)


@dataclass(frozen=True)
class HealthWording:
    """The sentence under the health score, per level (band key), and the one when no KPI has data."""

    summaries: Mapping[BandKey, str]
    no_data: str


NO_DATA_SUMMARY = "Insufficient dashboard data available for this store on the selected date."
DAILY_WORDING = HealthWording(
    {
        "excellent": "Operations delivered above plan with strong conversion and service levels.",
        "good": "Overall performance was stable with minor optimisations available.",
        "warning": "Mixed performance today – a few KPIs require closer monitoring tomorrow.",
        "critical": "Multiple KPIs triggered alerts; immediate follow-up is required.",
    },
    NO_DATA_SUMMARY,
)
PERIOD_WORDING = HealthWording(
    {
        "excellent": "Operations ran above plan across the period with strong conversion and service levels.",
        "good": "Performance over the period was stable with minor optimisations available.",
        "warning": "Mixed performance over the period – a few KPIs need closer monitoring.",
        "critical": "Multiple KPIs were in alert over the period; follow-up is required.",
    },
    "Insufficient dashboard data available for this store in the selected period.",
)


def overall_health(results: Sequence[KpiResult], wording: HealthWording = DAILY_WORDING) -> Health:
    """Rounded (half-up) mean of the non-missing KPI scores; the label follows the rounded score."""
    scores = [r.band.score for r in results if r.band.score is not None]
    if not scores:
        return Health(0, "No Data", "warning", wording.no_data, 0)
    score = int(round_half_up(Decimal(sum(scores)) / len(scores)))
    for threshold, label, key in HEALTH_LEVELS:
        if score >= threshold:
            return Health(score, label, key, wording.summaries[key], len(scores))
    raise AssertionError("unreachable: the last health level has threshold 0")


# --- a KPI over a period -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiPeriod:
    """A KPI over a period: the band of its average, and the best and worst days (None without data)."""

    result: KpiResult
    best: tuple[date, Decimal] | None
    worst: tuple[date, Decimal] | None
    days_with_data: int


def average(values: Sequence[Number | None]) -> Decimal | None:
    """Mean of the values that are present; None when none is."""
    present = [d for d in map(to_decimal, values) if d is not None]
    return sum(present, Decimal(0)) / len(present) if present else None


def summarise_kpi(key: str, daily: Mapping[date, Number | None]) -> KpiPeriod:
    """Average, best and worst day of one KPI; a tie goes to the earlier day."""
    spec = KPI_BY_KEY[key]
    days = sorted(
        (day, dec) for day, dec in ((d, kpi_value(spec, v)) for d, v in daily.items()) if dec is not None
    )
    result = evaluate_kpi(key, average([value for _, value in days]))
    if not days:
        return KpiPeriod(result, None, None, 0)
    sign = 1 if spec.higher_is_better else -1
    best = max(days, key=lambda item: (sign * item[1], -item[0].toordinal()))
    worst = min(days, key=lambda item: (sign * item[1], item[0].toordinal()))
    return KpiPeriod(result, best, worst, len(days))


# --- recommendations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendations:
    highlights: list[str]
    focus_areas: list[str]
    actions: list[str]


@dataclass(frozen=True)
class RecommendationWording:
    """The rule texts of one kind of report: a highlight per KPI when it is Excellent/Good, a focus and an
    action per KPI when it needs attention, and the sentences used when no rule fired."""

    highlights: tuple[tuple[str, str], ...]
    concerns: tuple[tuple[str, str, str], ...]
    default_highlight: str
    default_focus: str
    default_action: str


DEFAULT_HIGHLIGHT = "No standout wins logged – maintain steady execution tomorrow."
DEFAULT_FOCUS = "Operations were stable with no major risk signals."
DEFAULT_ACTION = "Continue standard playbook reviews with the on-duty manager."

# (kpi key, highlight when Excellent/Good, focus + action when Needs Attention/Critical), in report order.
DAILY_RECOMMENDATIONS = RecommendationWording(
    highlights=(
        (
            "pickup_conversion_total_pct",
            "Lead-to-pickup conversion held strong today, indicating solid front-desk execution.",
        ),
        (
            "delivery_tat_pct",
            "Delivery turnaround time stayed on track with most orders delivered within TAT.",
        ),
        ("repeat_customer_pct", "Repeat customers contributed meaningfully, showing healthy loyalty."),
    ),
    concerns=(
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
    ),
    default_highlight=DEFAULT_HIGHLIGHT,
    default_focus=DEFAULT_FOCUS,
    default_action=DEFAULT_ACTION,
)
# The same rules over a week or a month: the KPI is its period average.
PERIOD_RECOMMENDATIONS = RecommendationWording(
    highlights=(
        (
            "pickup_conversion_total_pct",
            "Lead-to-pickup conversion held strong over the period, indicating solid front-desk execution.",
        ),
        (
            "delivery_tat_pct",
            "Delivery turnaround stayed on track across the period, most orders within TAT.",
        ),
        ("repeat_customer_pct", "Repeat customers contributed meaningfully over the period."),
    ),
    concerns=(
        (
            "pickup_conversion_total_pct",
            "Pickup conversion averaged below target – review lead quality and follow-ups.",
            "Review the period's unconverted leads with the team and tighten callback discipline.",
        ),
        (
            "undelivered_total_count",
            "The undelivered order backlog stayed elevated over the period.",
            "Hold a weekly backlog review with the delivery team; clear the oldest orders first.",
        ),
        (
            "undelivered_10_plus_count",
            "Orders pending beyond 10 days persisted during the period.",
            "Call every customer with a >10 day delay and agree a revised delivery date.",
        ),
        (
            "repeat_customer_pct",
            "Repeat customer contribution averaged low over the period.",
            "Plan a retention campaign for lapsed repeat customers.",
        ),
    ),
    default_highlight="No standout wins over the period – maintain steady execution.",
    default_focus="No KPI was in alert on average over the period.",
    default_action="Continue the standard playbook reviews with the store manager.",
)


def recommendations(
    results: Sequence[KpiResult], wording: RecommendationWording = DAILY_RECOMMENDATIONS
) -> Recommendations:
    bands = {r.spec.key: r.band for r in results}
    highlights = [text for key, text in wording.highlights if key in bands and bands[key].is_positive]
    focus: list[str] = []
    actions: list[str] = []
    for key, focus_text, action_text in wording.concerns:
        if key in bands and bands[key].is_concern:
            focus.append(focus_text)
            actions.append(action_text)
    return Recommendations(
        highlights or [wording.default_highlight],
        focus or [wording.default_focus],
        actions or [wording.default_action],
    )


# --- operating snapshot ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotMetric:
    """One row of a before/after table: a label and the two values compared."""

    label: str
    previous: Number | None
    current: Number | None
    # A month-to-date counter whose previous value is from an earlier month: it restarted, so the
    # difference says nothing about the change.
    counter_restarted: bool = False


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
    """The change note of a snapshot row; every snapshot metric is "higher is better"."""
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
    # Counts read as counts ("Up by 1"), fractions keep one decimal.
    amount = format_number(abs(delta))
    if delta > 0:
        return SnapshotChange(
            prev, cur, delta, f"Up by {amount} compared to the previous report.", "positive"
        )
    return SnapshotChange(prev, cur, delta, f"Down by {amount} compared to the previous report.", "negative")
