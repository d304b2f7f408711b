"""Great Expectations suites as code, one per warehouse table, and a runner that validates tables.

One run validates several tables through ONE checkpoint of a file-backed GX project (one validation
definition per suite) and then updates GX's Data Docs (a static site) once, so results accumulate
there. great_expectations takes seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The GX project stores this placeholder, not the URL: no password is written to disk.
CONNECTION_ENV = "GX_WAREHOUSE_URL"
DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
# The Data Docs index lists this many latest validation results. GX reads every stored result to
# build the index otherwise, and one run per new file stores one result per suite.
DATA_DOCS_INDEX_RESULTS = 100

# The segment names of macros/rfm.sql (rfm_segment, rfm_segment_names), in display order;
# tests/unit/test_expectation_suites.py keeps the two equal.
SEGMENT_NAMES = [
    "Champions", "Loyal", "Potential Loyalists", "New", "Promising", "Need Attention",
    "At Risk", "Can't Lose Them", "Hibernating", "Lost",
]


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    sample_values: list[Any] = field(default_factory=list)
    observed: Any = None
    # Says which query-based expectation this is: they all share one type and have no column.
    description: str | None = None


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

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _no_rows(gxe, description: str, query: str):
    """An expectation that `query` returns no row; `{batch}` in it stands for the validated table.
    The description names the check wherever it is shown: GX renders it instead of the query."""
    return gxe.UnexpectedRowsExpectation(description=description, unexpected_rows_query=query.strip())


def _key(gxe, *columns: str) -> list:
    """The columns are not null and unique together."""
    if len(columns) == 1:
        unique = gxe.ExpectColumnValuesToBeUnique(column=columns[0])
    else:
        unique = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns))
    return [*(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in columns), unique]


def _at_least(gxe, minimum: int, *columns: str) -> list:
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=minimum) for column in columns]


def _sales_measures(gxe) -> list:
    """The metric macros' measures (macros/metrics.sql): returns are negative amounts, positive units."""
    return [
        *_at_least(gxe, 0, "units_sold", "units_returned", "gross_revenue"),
        gxe.ExpectColumnValuesToBeBetween(column="returns_amount", max_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="net_revenue"),
    ]


def _no_missing_day(gxe, column: str):
    return _no_rows(
        gxe,
        f"Every day from the first to the last {column} has a row.",
        f"""
        select missing.day::date as missing_day
        from (select min({column}) as first_day, max({column}) as last_day from {{batch}}) as bounds
        cross join generate_series(bounds.first_day, bounds.last_day, interval '1 day') as missing (day)
        where not exists (select 1 from {{batch}} as present where present.{column} = missing.day::date)
        """,
    )


# Revenue reconciles along a chain: raw.order_lines -> fct_order_lines -> kpi_daily (day by day) ->
# every other mart that adds up sales. The other marts compare with kpi_daily, not with the facts:
# it is small, so each comparison costs next to nothing. Amounts are converted to EUR and rounded to
# the cent once, per line (int_order_lines__priced), and every mart adds up those rounded amounts:
# the totals agree exactly, so no rounding tolerance is allowed (converting the total instead of
# each line would be off by up to half a cent per line).
KPI_NET_REVENUE = "(select coalesce(sum(net_revenue), 0) from marts.kpi_daily)"


def _net_revenue_matches_kpi_daily(gxe, per: str | None = None):
    grouping = f"{per}, " if per else ""
    return _no_rows(
        gxe,
        f"Net revenue{f' of each {per}' if per else ''} adds up to the sum of marts.kpi_daily.net_revenue, to the cent.",
        f"""
        select {grouping}coalesce(sum(net_revenue), 0) as net_revenue, {KPI_NET_REVENUE} as kpi_daily_net_revenue
        from {{batch}}
        {f'group by {per}' if per else ''}
        having coalesce(sum(net_revenue), 0) <> {KPI_NET_REVENUE}
        """,
    )


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
        # A line of an export gives at most one sale line and one return (a sold, then returned line).
        _no_rows(
            gxe,
            "Each line of a file gives at most one sale line and one return line.",
            """
            select file_id, source_line, quantity > 0 as is_sale, count(*) as lines
            from {batch}
            group by file_id, source_line, quantity > 0
            having count(*) > 1
            """,
        ),
        gxe.ExpectColumnValuesToNotBeInSet(column="quantity", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        gxe.ExpectColumnValueLengthsToEqual(column="currency", value=3),
        # customer_id and country are optional (CONTRACT.md): a shop of guest checkouts, or one that
        # exports no countries, is a real shop. The ingestion check reports a file's quarantined rows.
    ]


def _fct_order_lines(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "order_line_id"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("order_id", "order_date", "product_id", "category", "country_code", "line_amount")),
        gxe.ExpectColumnValuesToNotBeInSet(column="quantity", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        # The raw side is computed as int_order_lines__priced does (quantity x unit_price per EUR,
        # rounded per line), grouped by amount first since there are far fewer amounts than lines.
        # The line counts tell a line lost on the way, e.g. a currency without a rate.
        _no_rows(
            gxe,
            "Lines and amount in EUR equal those of raw.order_lines converted with staging.currency_rates, to the cent.",
            """
            with raw_amounts as (
                select currency, quantity * unit_price as amount_local, count(*) as lines
                from raw.order_lines
                group by currency, quantity * unit_price
            ),
            raw_total as (
                select coalesce(sum(round(raw_amounts.amount_local / rates.units_per_eur, 2) * raw_amounts.lines), 0) as amount,
                    coalesce(sum(raw_amounts.lines), 0) as lines
                from raw_amounts
                left join staging.currency_rates as rates on raw_amounts.currency = rates.currency_code
            ),
            fact_total as (
                select coalesce(sum(line_amount), 0) as amount, count(*) as lines from {batch}
            )
            select raw_total.lines as raw_lines, fact_total.lines as fact_lines,
                raw_total.amount as raw_amount, fact_total.amount as fact_amount
            from raw_total cross join fact_total
            where raw_total.lines <> fact_total.lines or raw_total.amount <> fact_total.amount
            """,
        ),
    ]


def _fct_orders(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "order_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeInSet(column="order_status", value_set=["completed", "returned", "cancelled"]),
        *_at_least(gxe, 0, "sale_lines", "return_lines"),
        *_sales_measures(gxe),
        _net_revenue_matches_kpi_daily(gxe),
    ]


def _dim_customers(gxe) -> list:
    return [
        *_key(gxe, "customer_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="first_seen_date"),
        *_at_least(gxe, 0, "orders", "lifetime_gross_revenue"),
        gxe.ExpectColumnValuesToBeBetween(column="lifetime_returns_amount", max_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="first_order_date", column_B="first_seen_date", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="last_order_date", column_B="first_order_date", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
    ]


def _dim_products(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "product_id"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("category", "first_order_date", "last_order_date")),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="last_order_date", column_B="first_order_date", or_equal=True),
    ]


def _dim_date(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "date_day"),
        _no_missing_day(gxe, "date_day"),
        gxe.ExpectColumnValuesToBeBetween(column="month_of_year", min_value=1, max_value=12),
        gxe.ExpectColumnValuesToBeBetween(column="day_of_week", min_value=1, max_value=7),
        gxe.ExpectColumnValuesToBeBetween(column="iso_week", min_value=1, max_value=53),
    ]


def _kpi_daily(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "order_date"),
        *_at_least(gxe, 0, "orders", "guest_orders", "customers", "units_sold", "units_returned", "gross_revenue"),
        gxe.ExpectColumnValuesToBeBetween(column="returns_amount", max_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="net_revenue"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="orders", column_B="guest_orders", or_equal=True),
        *_at_least(gxe, 0, "new_customers", "returned_orders"),
        _no_missing_day(gxe, "order_date"),
        _no_rows(
            gxe,
            "Net revenue of each day equals the sum of marts.fct_order_lines.line_amount on that day, to the cent.",
            """
            select coalesce(kpi.order_date, facts.order_date) as order_date,
                kpi.net_revenue as kpi_daily_net_revenue, facts.line_amount as fct_order_lines_amount
            from {batch} as kpi
            full join (
                select order_date, sum(line_amount) as line_amount from marts.fct_order_lines group by order_date
            ) as facts on kpi.order_date = facts.order_date
            where coalesce(kpi.net_revenue, 0) <> coalesce(facts.line_amount, 0)
            """,
        ),
    ]


def _revenue_trends(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "grain", "period_start"),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="grain", value_set=["day", "week", "month"]),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="period_end", column_B="period_start", or_equal=True),
        gxe.ExpectColumnValuesToNotBeNull(column="net_revenue"),
        *_at_least(gxe, 0, "gross_revenue", "orders", "customers", "new_customers"),
        _net_revenue_matches_kpi_daily(gxe, per="grain"),
    ]


def _sales_daily_by_category_country(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "order_date", "category", "country_code"),
        *_at_least(gxe, 0, "orders", "customers"),
        *_sales_measures(gxe),
        _net_revenue_matches_kpi_daily(gxe),
    ]


def _customer_segments(gxe) -> list:
    return [
        *_key(gxe, "customer_id"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=score) for score in ("r_score", "f_score", "m_score")),
        *(gxe.ExpectColumnValuesToBeBetween(column=score, min_value=1, max_value=5) for score in ("r_score", "f_score", "m_score")),
        gxe.ExpectColumnValuesToNotBeNull(column="segment"),
        gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=SEGMENT_NAMES),
        gxe.ExpectColumnValuesToBeBetween(column="recency_days", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="frequency", min_value=1),
        _no_rows(
            gxe,
            "Every customer with an order (marts.dim_customers.orders > 0) is scored.",
            """
            select (select count(*) from {batch}) as scored_customers, customers.with_orders as customers_with_orders
            from (select count(*) as with_orders from marts.dim_customers where orders > 0) as customers
            where customers.with_orders <> (select count(*) from {batch})
            """,
        ),
    ]


def _segment_summary(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToEqual(value=len(SEGMENT_NAMES)),
        *_key(gxe, "segment"),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="segment", value_set=SEGMENT_NAMES),
        *_at_least(gxe, 0, "customers"),
        gxe.ExpectColumnValuesToBeBetween(column="customer_share", min_value=0, max_value=1),
        # Segments hold the registered customers with an order: with the guest orders and the
        # customers who only returned (dim_customers.orders = 0), they make up all of kpi_daily.
        _no_rows(
            gxe,
            "Customers add up to marts.customer_segments; net revenue plus guest orders and customers without a sale"
            " adds up to marts.kpi_daily, to the cent.",
            f"""
            with summary as (
                select coalesce(sum(customers), 0) as customers, coalesce(sum(net_revenue), 0) as net_revenue from {{batch}}
            ),
            expected as (
                select
                    (select count(*) from marts.customer_segments) as customers,
                    {KPI_NET_REVENUE}
                        - (select coalesce(sum(net_revenue), 0) from marts.fct_orders where customer_id is null)
                        - (select coalesce(sum(lifetime_net_revenue), 0) from marts.dim_customers where orders = 0)
                        as net_revenue
            )
            select summary.customers, expected.customers as expected_customers,
                summary.net_revenue, expected.net_revenue as expected_net_revenue
            from summary cross join expected
            where summary.customers <> expected.customers or summary.net_revenue <> expected.net_revenue
            """,
        ),
    ]


def _customer_value_by_score(gxe) -> list:
    return [
        *_key(gxe, "m_score", "segment", "country_code"),
        gxe.ExpectColumnValuesToBeBetween(column="m_score", min_value=1, max_value=5),
        gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=SEGMENT_NAMES),
        *_at_least(gxe, 1, "customers"),
        _no_rows(
            gxe,
            "Customers and lifetime net revenue add up to marts.customer_segments, to the cent.",
            """
            with distribution as (
                select coalesce(sum(customers), 0) as customers, coalesce(sum(lifetime_net_revenue), 0) as revenue from {batch}
            ),
            scored as (
                select count(*) as customers, coalesce(sum(monetary), 0) as revenue from marts.customer_segments
            )
            select distribution.customers, scored.customers as scored_customers,
                distribution.revenue, scored.revenue as scored_revenue
            from distribution cross join scored
            where distribution.customers <> scored.customers or distribution.revenue <> scored.revenue
            """,
        ),
    ]


def _cohort_retention(gxe) -> list:
    return [
        *_key(gxe, "cohort_month", "months_since_first_order"),
        gxe.ExpectColumnValuesToBeBetween(column="months_since_first_order", min_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="retention_rate"),
        gxe.ExpectColumnValuesToBeBetween(column="retention_rate", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="cohort_size", column_B="active_customers", or_equal=True),
        _no_rows(
            gxe,
            "The whole cohort is retained in its own month (retention_rate 1 at months_since_first_order 0).",
            "select cohort_month, retention_rate from {batch} where months_since_first_order = 0 and retention_rate <> 1",
        ),
    ]


def _product_performance(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "product_id"),
        *_sales_measures(gxe),
        *_at_least(gxe, 0, "return_rate"),
        *_at_least(gxe, 1, "revenue_rank", "units_rank"),
        _net_revenue_matches_kpi_daily(gxe),
    ]


def _category_performance(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "category"),
        *_at_least(gxe, 0, "products", "orders", "return_rate"),
        *_sales_measures(gxe),
        *_at_least(gxe, 1, "revenue_rank"),
        _net_revenue_matches_kpi_daily(gxe),
    ]


def _country_performance(gxe) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_key(gxe, "country_code"),
        gxe.ExpectColumnValueLengthsToEqual(column="country_code", value=2),
        *_at_least(gxe, 0, "orders", "customers", "return_rate"),
        *_sales_measures(gxe),
        *_at_least(gxe, 1, "revenue_rank"),
        _net_revenue_matches_kpi_daily(gxe),
    ]


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite("raw", "order_lines", _raw_order_lines),
        Suite("marts", "fct_order_lines", _fct_order_lines),
        Suite("marts", "fct_orders", _fct_orders),
        Suite("marts", "dim_customers", _dim_customers),
        Suite("marts", "dim_products", _dim_products),
        Suite("marts", "dim_date", _dim_date),
        Suite("marts", "kpi_daily", _kpi_daily),
        Suite("marts", "revenue_trends", _revenue_trends),
        Suite("marts", "sales_daily_by_category_country", _sales_daily_by_category_country),
        Suite("marts", "customer_segments", _customer_segments),
        Suite("marts", "segment_summary", _segment_summary),
        Suite("marts", "customer_value_by_score", _customer_value_by_score),
        Suite("marts", "cohort_retention", _cohort_retention),
        Suite("marts", "product_performance", _product_performance),
        Suite("marts", "category_performance", _category_performance),
        Suite("marts", "country_performance", _country_performance),
    )
}


def data_docs_index(gx_dir: Path) -> Path:
    return gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(gx_dir: Path):
    """The file-backed GX project, its Data Docs index capped, and the warehouse data source."""
    import great_expectations as gx

    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    for site_name, site in context.config.data_docs_sites.items():
        index_builder = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if index_builder.get("validation_results_limit") != DATA_DOCS_INDEX_RESULTS:
            index_builder["validation_results_limit"] = DATA_DOCS_INDEX_RESULTS
            context.update_data_docs_site(site_name, site)
    try:
        context.data_sources.get(DATASOURCE)
    except KeyError:
        # add_sql, not add_postgres: the latter rejects valid URLs without a TCP host.
        context.data_sources.add_sql(name=DATASOURCE, connection_string="${" + CONNECTION_ENV + "}")
    return context


def _prune_stored_results(gx_dir: Path, specs: Sequence[Suite], keep: int) -> None:
    """GX keeps every validation result, as JSON and as a Data Docs page, for ever: some 10 KB and
    40 KB per suite and run. The warehouse keeps them all (ops.quality_results); the GX project keeps
    each suite's latest `keep`, at least as many as the Data Docs index links to."""
    uncommitted = gx_dir / "gx" / "uncommitted"
    for store in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations"):
        for spec in specs:
            # <store>/<schema>/<table>/<run name>/<run time>/...; run times sort as they happened.
            for run_name in (store / spec.schema / spec.table).glob("*/"):
                for stale in sorted(run_name.iterdir())[:-keep]:
                    shutil.rmtree(stale)


def in_schemas(query: str, schemas: Mapping[str, str]) -> str:
    """`query` with the schemas it names (`marts.kpi_daily`) replaced by the physical ones it is to
    run against (`marts_candidate.kpi_daily`): the gates check the candidate the pipeline just built."""
    if not schemas:
        return query
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, schemas)) + r")\.(?=\w)")
    return pattern.sub(lambda match: schemas[match.group(1)] + ".", query)


def _validation_definition(context, suite_spec: Suite, schemas: Mapping[str, str]):
    """The suite (rewritten from code on every run) against its whole table, in the schemas given."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    schema = schemas.get(suite_spec.schema, suite_spec.schema)
    # Looked up, not re-created: every asset or batch definition added rewrites great_expectations.yml.
    source = context.data_sources.get(DATASOURCE)
    asset_name = f"{schema}.{suite_spec.table}"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_table_asset(name=asset_name, table_name=suite_spec.table, schema_name=schema)
    try:
        batch = asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        batch = asset.add_batch_definition_whole_table(BATCH_DEFINITION)
    expectations = suite_spec.expectations(gxe)
    for expectation in expectations:
        if isinstance(expectation, gxe.UnexpectedRowsExpectation):
            expectation.unexpected_rows_query = in_schemas(expectation.unexpected_rows_query, schemas)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_spec.name, expectations=expectations))
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{suite_spec.name}:{BATCH_DEFINITION}", data=batch, suite=suite)
    )


def validate(
    suite_names: Sequence[str],
    sqlalchemy_url: str,
    gx_dir: Path,
    keep_results: int = DATA_DOCS_INDEX_RESULTS,
    schemas: Mapping[str, str] | None = None,
) -> list[SuiteOutcome]:
    """Run the suites against their tables through one checkpoint, then update the Data Docs once and
    drop each suite's stored results but the latest `keep_results`. `schemas` maps the schemas the
    suites name to those to validate (the pipeline's candidate schemas); unmapped ones are used as named."""
    schemas = schemas or {}
    import great_expectations as gx

    os.environ[CONNECTION_ENV] = sqlalchemy_url
    context = _context(gx_dir)
    specs = [SUITES[name] for name in suite_names]
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            # One checkpoint per schema: the raw gate and the mart gates run at different times.
            name="+".join(sorted({spec.schema for spec in specs})),
            validation_definitions=[_validation_definition(context, spec, schemas) for spec in specs],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    run_results = checkpoint.run().run_results
    # Not UpdateDataDocsAction: it rebuilds the index and copies the static assets once per result.
    context.build_data_docs(
        resource_identifiers=[
            identifier for key in run_results for identifier in (key, key.expectation_suite_identifier)
        ]
    )
    _prune_stored_results(gx_dir, specs, keep_results)
    by_suite = {result.suite_name: result for result in run_results.values()}
    return [
        SuiteOutcome(
            suite=spec.name,
            table=spec.name,
            success=bool(by_suite[spec.name].success),
            expectations=[_outcome(item) for item in by_suite[spec.name].results],
        )
        for spec in specs
    ]


def _outcome(item) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A") or _joined(config.kwargs.get("column_list")),
        success=bool(item.success),
        # An UnexpectedRowsExpectation observes the number of rows its query returned: its unexpected count.
        unexpected_count=details.get("unexpected_count", details.get("observed_value") if config.type == "unexpected_rows_expectation" else None),
        sample_values=list(details.get("partial_unexpected_list") or [])[:5],
        observed=details.get("observed_value"),
        description=config.description,
    )


def _joined(columns: list[str] | None) -> str | None:
    return ", ".join(columns) if columns else None
