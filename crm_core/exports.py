"""The declarative export/bucket registry.

One `ExportSpec` per portal export: where it is downloaded from, how the local and merged files are named,
which table it lands in, how each CSV header maps to a column and how values are coerced, which columns are
required and which form the dedupe/conflict key. The ORM tables (`crm_core.db.models`), the row validation
and the merge all derive from these specs; nothing else lists the columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from crm_core.store_codes import checked_store_code

ColumnKind = Literal["text", "int", "float", "date", "bool"]


@dataclass(frozen=True)
class ExportColumn:
    name: str
    kind: ColumnKind = "text"
    # CSV header names accepted for this column, first is the vendor's canonical spelling.
    headers: tuple[str, ...] = ()
    required: bool = False
    personal: bool = False

    @property
    def accepted_headers(self) -> tuple[str, ...]:
        return self.headers or (self.name,)


@dataclass(frozen=True)
class ExportSpec:
    bucket: str
    table: str
    url_template: str  # relative to the TMS origin; `{sc}` = store code
    file_template: str  # local per-store file name; `{sc}` = store code
    columns: tuple[ExportColumn, ...]
    keys: tuple[str, ...]
    download: bool = True
    description: str = ""
    column_index: dict[str, ExportColumn] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})
        missing = [k for k in self.keys if k not in self.column_index]
        if missing:
            raise ValueError(f"export {self.bucket}: dedupe keys {missing} are not columns")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns that must have a value: the declared required ones plus every dedupe key."""
        return tuple(c.name for c in self.columns if c.required or c.name in self.keys)

    @property
    def non_key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.name not in self.keys)

    def url(self, store_code: str) -> str:
        return self.url_template.format(sc=checked_store_code(store_code))

    def file_name(self, store_code: str) -> str:
        return self.file_template.format(sc=checked_store_code(store_code))

    def merged_file_name(self, report_date: date) -> str:
        return f"merged_{self.bucket}_{report_date:%Y%m%d}.csv"

    def rejects_file_name(self, report_date: date) -> str:
        return f"rejects_{self.bucket}_{report_date:%Y%m%d}.csv"

    def header_map(self) -> dict[str, str]:
        """Normalised CSV header → column name, over every accepted spelling."""
        mapping: dict[str, str] = {}
        for column in self.columns:
            for header in column.accepted_headers:
                mapping.setdefault(normalise_header(header), column.name)
        return mapping


def normalise_header(header: str) -> str:
    """Case, BOM, spacing, underscores, dashes and dots are not significant in header names."""
    return re.sub(r"[^0-9a-z]", "", header.replace("\ufeff", "").lower())


_T = ExportColumn

MISSED_LEADS = ExportSpec(
    bucket="missed_leads",
    table="missed_leads",
    url_template="/mis/download_csv?store_code={sc}",
    file_template="{sc}-missed-leads.csv",
    description="Pickup requests (leads); not-converted leads are the follow-up list",
    columns=(
        _T("pickup_row_id", "int", ("id", "pickup_row_id"), required=True),
        _T("mobile_number", "text", ("mobile_number",), required=True, personal=True),
        _T("pickup_no", "text", ("pickup_no",)),
        _T("pickup_created_date", "date", ("pickup_created_date",)),
        _T("pickup_created_time", "text", ("pickup_created_time",)),
        _T("store_code", "text", ("store_code",)),
        _T("store_name", "text", ("store_name",)),
        _T("pickup_date", "date", ("pickup_date",)),
        _T("pickup_time", "text", ("pickup_time",)),
        _T("customer_name", "text", ("customer_name",), personal=True),
        # Free text customers write: names, addresses, alternate numbers.
        _T("special_instruction", "text", ("special_instruction",), personal=True),
        _T("source", "text", ("source",)),
        _T("final_source", "text", ("final_source",)),
        _T("customer_type", "text", ("customer_type",)),
        _T("is_order_placed", "bool", ("is_order_placed",)),
    ),
    keys=("store_code", "pickup_no"),
)

UNDELIVERED_ALL = ExportSpec(
    bucket="undelivered_all",
    table="undelivered_orders",
    url_template="/mis/download_undelivered_csv?type=a&store_code={sc}",
    file_template="{sc}-undelivered-all.csv",
    description="Orders whose delivery is pending (and recently delivered ones)",
    columns=(
        _T("order_id", "text", ("order_id", "order_no")),
        _T("order_date", "date", ("order_date",)),
        _T("store_code", "text", ("store_code",)),
        _T("store_name", "text", ("store_name",)),
        _T("taxable_amount", "float", ("taxable_amount",)),
        _T("net_amount", "float", ("net_amount",)),
        _T("service_code", "text", ("service_code",)),
        _T("mobile_no", "text", ("mobile_no",), personal=True),
        _T("status", "text", ("status",)),
        _T("customer_id", "text", ("customer_id",), personal=True),
        _T("expected_deliver_on", "date", ("expected_deliver_on",)),
        _T("actual_deliver_on", "date", ("actual_deliver_on",)),
    ),
    keys=("store_code", "order_id"),
)

REPEAT_CUSTOMERS = ExportSpec(
    bucket="repeat_customers",
    table="repeat_customers",
    url_template="/mis/download_repeat_csv?store_code={sc}",
    file_template="{sc}-repeat-customers.csv",
    description="Mobiles the vendor counts as repeat customers",
    columns=(
        _T("store_code", "text", ("Store Code", "store_code")),
        _T("mobile_no", "text", ("Mobile No.", "mobile_no", "Mobile"), personal=True),
        _T("status", "text", ("Status",)),
    ),
    keys=("store_code", "mobile_no"),
)

NONPACKAGE_ALL = ExportSpec(
    bucket="nonpackage_all",
    table="nonpackage_orders",
    url_template="/mis/download_nonpackageorder_csv?type=all&store_code={sc}",
    file_template="{sc}-non-package-all.csv",
    description="Orders not covered by a prepaid package",
    download=False,  # defined, switched off; enabling it is this one line.
    columns=(
        _T("store_code", "text", ("Store Code", "store_code")),
        _T("store_name", "text", ("Store Name", "store_name")),
        _T("mobile_no", "text", ("Mobile No", "Mobile No.", "Mobile", "mobile_no"), personal=True),
        _T("taxable_amount", "float", ("Taxable Amount", "taxable_amount")),
        _T("order_date", "date", ("Order Date", "order_date"), required=True),
        _T("expected_delivery_date", "date", ("Expected Delivery Date", "expected_delivery_date")),
        _T("actual_delivery_date", "date", ("Actual Delivery Date", "actual_delivery_date")),
    ),
    keys=("store_code", "mobile_no"),
)

EXPORTS: dict[str, ExportSpec] = {
    spec.bucket: spec for spec in (MISSED_LEADS, UNDELIVERED_ALL, REPEAT_CUSTOMERS, NONPACKAGE_ALL)
}


def enabled_exports() -> list[ExportSpec]:
    """The exports downloaded and ingested by the daily flow, in registry order."""
    return [spec for spec in EXPORTS.values() if spec.download]


def get_export(bucket: str) -> ExportSpec:
    try:
        return EXPORTS[bucket]
    except KeyError:
        raise KeyError(f"unknown bucket {bucket!r} (known: {', '.join(EXPORTS)})") from None
