"""Vendor portal access: the Playwright downloader, dashboard parsing, persistence, and the simulator."""
