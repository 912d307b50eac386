"""Alembic migrations of the CRM database, shipped inside the package so installed copies can upgrade."""
