"""PDF reports. Daily store PDF: `render_store_reports` (flow entry point), `load_daily_context`,
`render_daily_pdf`, `daily_pdf_path`. Shared look (fonts, palette, paged canvas) lives in `styles`, number
printing in `formatting`, so weekly/monthly reports reuse them."""
