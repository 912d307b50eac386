"""What every PDF worker process starts with: the fork server imports this module once, so each worker it
forks already has the report layouts imported and the fonts parsed (see `pool`)."""

from __future__ import annotations

from crm_core.reports.daily import layout as daily_layout
from crm_core.reports.period import layout as period_layout
from crm_core.reports.styles import register_fonts

register_fonts()

__all__ = ["daily_layout", "period_layout"]
