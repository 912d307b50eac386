"""The daily store PDF: its data (`data`), its layout (`layout`) and the entry the daily flow calls
(`render.render_store_reports`)."""

from crm_core.reports.daily.data import DailyReportContext, load_daily_context
from crm_core.reports.daily.layout import FOOTER_SENTENCE, daily_pdf_path, render_daily_pdf
from crm_core.reports.daily.render import (
    NO_DATA_MESSAGE,
    daily_report_kind,
    render_store_reports,
)

__all__ = [
    "FOOTER_SENTENCE",
    "NO_DATA_MESSAGE",
    "DailyReportContext",
    "daily_pdf_path",
    "daily_report_kind",
    "load_daily_context",
    "render_daily_pdf",
    "render_store_reports",
]
