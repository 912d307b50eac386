"""The weekly and monthly store PDFs: their data (`data`), their layout (`layout`) and the entry the period
flows call (`render_period_reports`)."""

from crm_core.reports.period.data import (
    CombinedPeriodReport,
    PeriodFigures,
    StorePeriodReport,
    Volume,
    counter_volume,
    load_store_period,
    period_figures,
)
from crm_core.reports.period.layout import (
    FOOTER_SENTENCE,
    NO_DATA_NOTICE,
    period_report_path,
    period_text,
    render_period_pdf,
)
from crm_core.reports.period.render import (
    ALL_STORES,
    NO_DATA_MESSAGE,
    period_report_kind,
    render_period_reports,
)

__all__ = [
    "ALL_STORES",
    "FOOTER_SENTENCE",
    "NO_DATA_MESSAGE",
    "NO_DATA_NOTICE",
    "CombinedPeriodReport",
    "PeriodFigures",
    "StorePeriodReport",
    "Volume",
    "counter_volume",
    "load_store_period",
    "period_figures",
    "period_report_kind",
    "period_report_path",
    "period_text",
    "render_period_pdf",
    "render_period_reports",
]
