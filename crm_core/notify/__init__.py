"""Notification engine (DOMAIN A8, B9): plans, sandboxed templates, SMTP or outbox, send log."""
