"""Validation and upsert of merged bucket files (DOMAIN A2–A3, B5.3); see `core.ingest_merged`."""

from crm_core.ingest.core import IngestError, IngestResult, ingest_merged
from crm_core.ingest.validate import Validator, row_model, validate_row

__all__ = ["IngestError", "IngestResult", "Validator", "ingest_merged", "row_model", "validate_row"]
