"""Flow parameter types whose JSON schema says what a valid value looks like, so that the Prefect server
refuses a bad one (`--param report_date=notadate`) when the run is created, not minutes later in the
worker. (Prefect does not check the schema's `format: date`; a `pattern` it does.)"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

ReportDate = Annotated[date | None, Field(json_schema_extra={"pattern": r"^\d{4}-\d{2}-\d{2}$"})]
# A date inside the week (YYYY-MM-DD) or, for months, YYYY-MM.
PeriodText = Annotated[str | None, Field(json_schema_extra={"pattern": r"^\d{4}-\d{2}(-\d{2})?$"})]
