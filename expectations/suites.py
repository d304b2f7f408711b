"""Great Expectations suites as code, one per warehouse table, and a runner that validates a table.

Each run goes through a checkpoint of a file-backed GX project, so results accumulate in Great
Expectations' Data Docs (a static site). great_expectations takes seconds to import, so it is
imported inside the functions that need it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The GX project stores this placeholder, not the URL: no password is written to disk.
CONNECTION_ENV = "GX_WAREHOUSE_URL"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    sample_values: list[Any] = field(default_factory=list)
    observed: Any = None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    table: str
    success: bool
    expectations: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.expectations if not outcome.success]


@dataclass(frozen=True)
class Suite:
    schema: str
    table: str
    expectations: Callable[[Any], list]  # great_expectations.expectations module -> expectations


def _raw_order_lines(gxe) -> list:
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[
                "order_id", "ordered_at", "customer_id", "product_id", "product_name", "category", "quantity",
                "unit_price", "currency", "country", "status", "channel", "source", "file_id", "source_line", "loaded_at",
            ],
            exact_match=True,
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("order_id", "ordered_at", "product_id", "quantity", "unit_price", "currency")),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["file_id", "source_line"]),
        gxe.ExpectColumnValuesToNotBeInSet(column="quantity", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        gxe.ExpectColumnValueLengthsToEqual(column="currency", value=3),
        # Guest checkouts are normal, but a shop where most orders lack a customer is a broken export.
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id", mostly=0.5),
        gxe.ExpectColumnValuesToNotBeNull(column="country", mostly=0.95),
    ]


def _kpi_daily(gxe) -> list:
    non_negative = ["orders", "guest_orders", "customers", "units_sold", "units_returned", "gross_revenue"]
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeUnique(column="order_date"),
        *(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0) for column in non_negative),
        gxe.ExpectColumnValuesToBeBetween(column="returns_amount", max_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="net_revenue"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="orders", column_B="guest_orders", or_equal=True),
    ]


SUITES: dict[str, Suite] = {
    "raw.order_lines": Suite("raw", "order_lines", _raw_order_lines),
    "marts.kpi_daily": Suite("marts", "kpi_daily", _kpi_daily),
}


def data_docs_index(gx_dir: Path) -> Path:
    return gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def validate(suite_name: str, sqlalchemy_url: str, gx_dir: Path) -> SuiteOutcome:
    """Run one suite against its table through a checkpoint that also updates the Data Docs."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.checkpoint import UpdateDataDocsAction

    suite_spec = SUITES[suite_name]
    os.environ[CONNECTION_ENV] = sqlalchemy_url
    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    # add_sql, not add_postgres: the latter rejects valid URLs without a TCP host.
    source = context.data_sources.add_or_update_sql(name="warehouse", connection_string="${" + CONNECTION_ENV + "}")
    asset_name = f"{suite_spec.schema}.{suite_spec.table}"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_table_asset(name=asset_name, table_name=suite_spec.table, schema_name=suite_spec.schema)
    try:
        batch = asset.get_batch_definition("whole_table")
    except KeyError:
        batch = asset.add_batch_definition_whole_table("whole_table")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_name, expectations=suite_spec.expectations(gxe)))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{suite_name}:whole_table", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    (result,) = checkpoint.run().run_results.values()
    return SuiteOutcome(
        suite=suite_name,
        table=asset_name,
        success=bool(result.success),
        expectations=[_outcome(item) for item in result.results],
    )


def _outcome(item) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A") or _joined(config.kwargs.get("column_list")),
        success=bool(item.success),
        unexpected_count=details.get("unexpected_count"),
        sample_values=list(details.get("partial_unexpected_list") or [])[:5],
        observed=details.get("observed_value"),
    )


def _joined(columns: list[str] | None) -> str | None:
    return ", ".join(columns) if columns else None
