"""Alembic revision scripts; Alembic loads them by file, this file only makes them part of the wheel."""
