"""Great Expectations suites as code, one per warehouse table, and a runner that validates a table.

great_expectations takes seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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


def _kpi_daily(gxe) -> list:
    non_negative = ["orders", "guest_orders", "customers", "units_sold", "units_returned", "gross_revenue"]
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[
                "order_date", "orders", "guest_orders", "customers", "units_sold", "units_returned",
                "gross_revenue", "returns_amount", "net_revenue", "avg_order_value",
            ],
            exact_match=True,
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeUnique(column="order_date"),
        *(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0) for column in non_negative),
        gxe.ExpectColumnValuesToBeBetween(column="returns_amount", max_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="net_revenue"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="orders", column_B="guest_orders", or_equal=True
        ),
    ]


SUITES: dict[str, tuple[str, str, Callable]] = {
    # suite name: (schema, table, expectations)
    "marts.kpi_daily": ("marts", "kpi_daily", _kpi_daily),
}


def validate(suite_name: str, sqlalchemy_url: str) -> SuiteOutcome:
    """Run one suite against its table in the warehouse and summarise the result."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    schema, table, build_expectations = SUITES[suite_name]
    context = gx.get_context(mode="ephemeral")
    # add_sql, not add_postgres: the latter rejects valid URLs without a TCP host.
    source = context.data_sources.add_sql(name="warehouse", connection_string=sqlalchemy_url)
    asset = source.add_table_asset(name=table, table_name=table, schema_name=schema)
    batch = asset.add_batch_definition_whole_table("whole_table")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=build_expectations(gxe)))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}:whole_table", data=batch, suite=suite)
    )
    result = definition.run(result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    return SuiteOutcome(
        suite=suite_name,
        table=f"{schema}.{table}",
        success=bool(result.success),
        expectations=[_outcome(item) for item in result.results],
    )


def _outcome(item) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A"),
        success=bool(item.success),
        unexpected_count=details.get("unexpected_count"),
        sample_values=list(details.get("partial_unexpected_list") or [])[:5],
        observed=details.get("observed_value"),
    )
