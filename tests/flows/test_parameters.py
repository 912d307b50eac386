"""The flows' parameter schemas refuse malformed dates and periods, as the Prefect server checks them when a
deployment run is created (tests/e2e checks it through a real server)."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from flows.daily import daily_flow
from flows.monthly import monthly_flow
from flows.weekly import weekly_flow


def check(flow: Any, parameters: dict[str, Any]) -> None:
    schema = parameter_schema(flow.fn).model_dump_for_openapi()
    validate(parameters, schema, raise_on_error=True, ignore_required=True)


@pytest.mark.parametrize(
    ("flow", "parameters"),
    [
        (daily_flow, {"report_date": "notadate"}),
        (daily_flow, {"date_from": "19/11/2025"}),
        (weekly_flow, {"period": "last week"}),
        (monthly_flow, {"period": "2025-1"}),
    ],
)
def test_malformed_values_are_refused(flow: Any, parameters: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=next(iter(parameters))):
        check(flow, parameters)


@pytest.mark.parametrize(
    ("flow", "parameters"),
    [
        (daily_flow, {"report_date": "2025-11-19", "stores": "A668,A817"}),
        (daily_flow, {"report_date": None, "date_from": "2025-11-01", "date_to": "2025-11-03"}),
        (weekly_flow, {"period": "2026-10-05", "force": True}),
        (monthly_flow, {"period": "2026-09", "max_periods": 3}),
    ],
)
def test_well_formed_values_pass(flow: Any, parameters: dict[str, Any]) -> None:
    check(flow, parameters)
