"""Notification engine: plans, sandboxed templates, SMTP or outbox, send log."""
