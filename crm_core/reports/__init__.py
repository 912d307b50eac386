"""PDF reports. Shared building blocks: `styles` (fonts, palette, paged canvas with footer and page
numbers), `formatting` (numbers, money, dates), `kpis` (bands, health, period summaries), `actions` (the
undelivered-orders and missed-leads lists), `sections` (the drawn sections) and `documents` (the per-store
render loop and the `documents` rows). Each report is a package of its own (`daily`) with a loader and a
layout composed from those blocks."""
