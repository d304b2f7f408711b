"""The translation of a dbt model's declarations (contract, column labels, metrics) into a Superset dataset."""

import copy
import json

import pytest

from ecom_superset.bundle import load_assets
from ecom_superset.semantic import (
    SemanticError,
    columns_of,
    counted_distinct,
    dataset_from_model,
    metrics_of,
    reporting_currency,
)
from ecom_superset.validate import DEFAULT_MANIFEST
from orchestration.dbt_cli import prepare_manifest

AMOUNT = {"d3format": ",.2f", "currency": "EUR"}
MODEL = {
    "name": "daily_sales",
    "description": "Sales per day.",
    "columns": {
        "sales_day": {"name": "sales_day", "data_type": "date", "description": "The day.", "config": {"meta": {"label": "Day"}}},
        "gross_revenue": {"name": "gross_revenue", "data_type": "numeric", "description": "Revenue of sale lines."},
        "orders": {"name": "orders", "data_type": "bigint", "description": "Orders that day."},
        "units": {"name": "units", "data_type": "integer", "description": "Units sold."},
    },
    "config": {
        "meta": {
            "metrics": [
                {"sum": "gross_revenue", "format": AMOUNT},
                {"sum": "orders", "label": "Order count", "format": {"d3format": ",d"}},
                {"name": "days", "count": "rows", "description": "Days."},
                {"name": "weekend_units", "sum": "units", "where": "extract(isodow from sales_day) > 5"},
                {
                    "name": "avg_order_value",
                    "label": "Average order value",
                    "description": "Gross revenue per order.",
                    "ratio": {"numerator": "gross_revenue", "denominator": "orders"},
                    "format": AMOUNT,
                },
                {"name": "units_per_day", "ratio": {"numerator": "units", "denominator": "days"}},
            ]
        }
    },
}


def _metrics(model=MODEL) -> dict[str, dict]:
    return {metric["metric_name"]: metric for metric in metrics_of(model)}


def test_a_summed_column_is_a_metric_named_and_described_like_the_column():
    gross = _metrics()["gross_revenue"]
    assert gross == {
        "metric_name": "gross_revenue",
        "verbose_name": "Gross revenue",
        "metric_type": "sum",
        "expression": "SUM(gross_revenue)",
        "description": "Revenue of sale lines.",
        "d3format": ",.2f",
        "currency": {"symbol": "EUR", "symbolPosition": "prefix"},
    }
    assert _metrics()["orders"]["verbose_name"] == "Order count"
    assert "currency" not in _metrics()["orders"]


def test_counts_and_filtered_sums():
    metrics = _metrics()
    assert metrics["days"]["expression"] == "COUNT(*)"
    assert metrics["weekend_units"]["expression"] == "SUM(CASE WHEN extract(isodow from sales_day) > 5 THEN units ELSE 0 END)"


def test_a_ratio_divides_the_sums_of_its_operands():
    metrics = _metrics()
    assert metrics["avg_order_value"]["expression"] == "CAST(SUM(gross_revenue) AS NUMERIC) / NULLIF(SUM(orders), 0)"
    assert metrics["avg_order_value"]["metric_type"] == "ratio"
    # An operand that is not a metric of the model is its column, summed; one that is, its metric.
    assert metrics["units_per_day"]["expression"] == "CAST(SUM(units) AS NUMERIC) / NULLIF(COUNT(*), 0)"


def test_a_metric_over_a_missing_column_is_refused():
    model = copy.deepcopy(MODEL)
    model["config"]["meta"]["metrics"].append({"name": "ghost_rate", "ratio": {"numerator": "ghost", "denominator": "orders"}})
    with pytest.raises(SemanticError, match="metric ghost_rate of dbt model daily_sales names 'ghost'"):
        metrics_of(model)


def test_columns_take_type_label_and_description_from_the_contract():
    columns = {column["column_name"]: column for column in columns_of(MODEL)}
    assert columns["sales_day"] == {
        "column_name": "sales_day",
        "verbose_name": "Day",
        "is_dttm": True,
        "type": "DATE",
        "groupby": True,
        "filterable": True,
        "description": "The day.",
    }
    # Without a label of its own, a column is labelled like the metric of its name, else by its name.
    assert columns["orders"]["verbose_name"] == "Order count"
    assert columns["units"]["verbose_name"] == "Units"
    assert (columns["orders"]["groupby"], columns["units"]["groupby"]) == (False, True)


def test_the_reporting_currency_is_the_one_currency_of_the_metric_formats():
    def manifest(*models):
        return {"nodes": {f"model.shop.{i}": {**model, "resource_type": "model"} for i, model in enumerate(models)}}

    assert reporting_currency(manifest(MODEL)) == "EUR"
    in_usd = copy.deepcopy(MODEL)
    for metric in in_usd["config"]["meta"]["metrics"]:
        if "currency" in metric.get("format", {}):
            metric["format"] = {**metric["format"], "currency": "USD"}
    assert reporting_currency(manifest(in_usd)) == "USD"
    with pytest.raises(SemanticError, match=r"2 currencies \['EUR', 'USD'\]"):
        reporting_currency(manifest(MODEL, in_usd))
    without_amounts = {**MODEL, "config": {"meta": {"metrics": [{"name": "days", "count": "rows"}]}}}
    with pytest.raises(SemanticError, match="0 currencies"):
        reporting_currency(manifest(without_amounts))


def test_a_column_without_a_contract_type_is_refused():
    model = copy.deepcopy(MODEL)
    model["columns"]["units"]["data_type"] = None
    with pytest.raises(SemanticError, match="column units of dbt model daily_sales has no data_type"):
        columns_of(model)


def test_the_dataset_keeps_its_superset_settings_and_gets_the_models_description():
    spec = {"table_name": "daily_sales", "schema": "marts", "uuid": "u-1", "main_dttm_col": "sales_day", "cache_timeout": 600}
    dataset = dataset_from_model(spec, MODEL)
    assert {key: dataset[key] for key in spec} == spec
    assert dataset["description"] == "Sales per day."
    assert [column["column_name"] for column in dataset["columns"]] == list(MODEL["columns"])


@pytest.fixture(scope="module")
def manifest():
    prepare_manifest()
    return json.loads(DEFAULT_MANIFEST.read_text())


def test_a_shared_measure_is_the_same_metric_in_every_dataset_that_offers_it(manifest):
    """avg_order_value and return_rate are declared once in the dbt project and reused by alias. The
    SQL of a ratio follows its operands: avg_order_value divides by SUM(orders) where a row's orders
    add up, and by the distinct count where they do not (sales_orders_daily)."""
    datasets = load_assets(manifest=manifest).datasets
    for name in ("avg_order_value", "return_rate", "net_revenue"):
        keys = (
            ("verbose_name", "d3format", "description")
            if name == "avg_order_value"
            else ("expression", "verbose_name", "d3format")
        )
        definitions = [
            {key: metric[key] for key in keys}
            for dataset in datasets
            for metric in dataset.spec["metrics"]
            if metric["metric_name"] == name and dataset.name != "segment_summary"  # lifetime net revenue there
        ]
        assert len(definitions) >= 2, name
        assert all(definition == definitions[0] for definition in definitions), name
    amounts = [m for d in datasets for m in d.spec["metrics"] if m.get("d3format") == ",.2f" and "currency" in m]
    assert amounts and {m["currency"]["symbol"] for m in amounts} == {"EUR"}


def test_a_distinct_count_counts_each_value_once_and_can_be_a_ratio_operand():
    model = copy.deepcopy(MODEL)
    model["columns"]["customer_id"] = {"name": "customer_id", "data_type": "text", "description": "Customer."}
    model["config"]["meta"]["metrics"] += [
        {"name": "active_customers", "count_distinct": "customer_id", "format": {"d3format": ",d"}},
        {"name": "weekend_customers", "count_distinct": "customer_id", "where": "extract(isodow from sales_day) > 5"},
        {"name": "revenue_per_customer", "ratio": {"numerator": "gross_revenue", "denominator": "active_customers"}},
    ]
    metrics = _metrics(model)
    assert metrics["active_customers"]["expression"] == "COUNT(DISTINCT customer_id)"
    assert metrics["active_customers"]["metric_type"] == "count_distinct"
    assert metrics["weekend_customers"]["expression"] == (
        "COUNT(DISTINCT CASE WHEN extract(isodow from sales_day) > 5 THEN customer_id END)"
    )
    assert metrics["revenue_per_customer"]["expression"] == (
        "CAST(SUM(gross_revenue) AS NUMERIC) / NULLIF(COUNT(DISTINCT customer_id), 0)"
    )


def test_a_distinct_count_of_a_missing_column_is_refused():
    model = copy.deepcopy(MODEL)
    model["config"]["meta"]["metrics"].append({"name": "buyers", "count_distinct": "buyer_id"})
    with pytest.raises(SemanticError, match="buyer_id"):
        metrics_of(model)


def test_a_count_of_rows_can_have_a_condition():
    model = copy.deepcopy(MODEL)
    model["config"]["meta"]["metrics"].append(
        {"name": "weekend_days", "count": "rows", "where": "extract(isodow from sales_day) > 5"}
    )
    assert _metrics(model)["weekend_days"]["expression"] == "SUM(CASE WHEN extract(isodow from sales_day) > 5 THEN 1 ELSE 0 END)"


CUSTOMER_DAYS = {
    "name": "customer_days",
    "columns": {
        name: {"name": name, "data_type": data_type}
        for name, data_type in [
            ("sales_day", "date"),
            ("customer_key", "bigint"),
            ("country", "text"),
            ("previous_day", "date"),
            ("net_revenue", "numeric"),
        ]
    },
    "config": {
        "meta": {
            "metrics": [
                {
                    "name": "customers",
                    "count_distinct": "customer_key",
                    "counted_once": {
                        "first_in_period": "previous_day",
                        "exact_under_filters_on": ["sales_day", "customer_key", "country"],
                    },
                },
                {
                    "name": "big_spenders",
                    "count_distinct": "customer_key",
                    "where": "net_revenue >= 100",
                    "counted_once": {"on_row": "previous_day IS NULL", "exact_under_filters_on": ["country"]},
                },
            ]
        }
    },
}
# customer, country, days with an order, revenue of each day
HISTORY = [
    (1, "DE", ["2025-01-03", "2025-01-20", "2025-02-02"]),
    (2, "FR", ["2025-01-25"]),
    (3, "DE", ["2025-02-01", "2025-02-03"]),
]


def _rendered(expression: str, **context) -> str:
    """The expression as Superset's Jinja renders it for a query (superset/jinja_context.py also
    renders in a sandbox; `filter` holds the query's filters, `from_dttm` the start in ISO text)."""
    from jinja2.sandbox import SandboxedEnvironment

    query = {"columns": [], "groupby": [], "filter": [], "from_dttm": None} | context
    return SandboxedEnvironment().from_string(expression).render(**query)


@pytest.fixture(scope="module")
def customer_days():
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute(
        "create table customer_days (sales_day text, customer_key int, country text, previous_day text, net_revenue real)"
    )
    for key, country, days in HISTORY:
        for previous, day in zip([None, *days], days, strict=False):
            conn.execute("insert into customer_days values (?, ?, ?, ?, 100)", (day, key, country, previous))
    return conn


@pytest.mark.parametrize(
    ("start", "end", "country"),
    [
        (None, None, None),
        ("2025-01-01", "2025-02-01", None),
        ("2025-01-20", "2025-02-03", None),
        ("2025-02-01", "2025-03-01", "DE"),
    ],
)
def test_counted_once_counts_the_first_row_of_each_customer_in_the_period_like_count_distinct(customer_days, start, end, country):
    expression = _metrics(CUSTOMER_DAYS)["customers"]["expression"]
    filters = ([{"col": "sales_day", "op": "TEMPORAL_RANGE", "val": f"{start} : {end}"}] if start else []) + (
        [{"col": "country", "op": "IN", "val": [country]}] if country else []
    )
    shortcut = _rendered(expression, filter=filters, from_dttm=f"{start}T00:00:00" if start else None)
    assert "DISTINCT" not in shortcut
    where = (
        " and ".join(
            ([f"sales_day >= '{start}' and sales_day < '{end}'"] if start else [])
            + ([f"country = '{country}'"] if country else [])
        )
        or "1 = 1"
    )
    (counted,) = customer_days.execute(f"select {shortcut} from customer_days where {where}").fetchone()
    (distinct,) = customer_days.execute(f"select count(distinct customer_key) from customer_days where {where}").fetchone()
    assert counted == distinct > 0


def test_counted_once_falls_back_to_count_distinct_when_rows_are_grouped_or_filtered_on_another_column():
    metrics = _metrics(CUSTOMER_DAYS)
    distinct = "COUNT(DISTINCT customer_key)"
    assert _rendered(metrics["customers"]["expression"], columns=["sales_day"]) == distinct
    assert _rendered(metrics["customers"]["expression"], groupby=["country"]) == distinct
    on_revenue = [{"col": "net_revenue", "op": ">", "val": 50}]
    assert _rendered(metrics["customers"]["expression"], filter=on_revenue) == distinct
    adhoc_column = [{"col": {"sqlExpression": "lower(country)", "label": "c"}, "op": "IN", "val": ["de"]}]
    assert _rendered(metrics["customers"]["expression"], filter=adhoc_column) == distinct
    # with a condition: it applies to both forms
    big = metrics["big_spenders"]["expression"]
    assert _rendered(big) == "SUM(CASE WHEN (net_revenue >= 100) AND (previous_day IS NULL) THEN 1 ELSE 0 END)"
    assert _rendered(big, columns=["country"]) == "COUNT(DISTINCT CASE WHEN net_revenue >= 100 THEN customer_key END)"


def test_counted_once_refuses_a_column_the_model_does_not_have():
    model = copy.deepcopy(CUSTOMER_DAYS)
    model["config"]["meta"]["metrics"][0]["counted_once"]["exact_under_filters_on"].append("segment")
    with pytest.raises(SemanticError, match="segment"):
        metrics_of(model)


def test_counted_distinct_is_the_plain_sql_of_a_metric():
    metrics = _metrics(CUSTOMER_DAYS)
    assert counted_distinct(metrics["customers"]["expression"]) == "COUNT(DISTINCT customer_key)"
    assert counted_distinct("SUM(net_revenue)") == "SUM(net_revenue)"


def test_counted_once_on_the_first_row_of_the_first_day_in_the_period(customer_days):
    """Several rows per customer and day (one per category): the first row of the day counts."""
    model = copy.deepcopy(CUSTOMER_DAYS)
    model["columns"]["is_first_row"] = {"name": "is_first_row", "data_type": "boolean"}
    model["config"]["meta"]["metrics"][0]["counted_once"]["on_row"] = "is_first_row"
    conn = customer_days
    conn.execute(
        "create table category_rows as select *, category, category = 'a' as is_first_row from customer_days, (select 'a' as category union all select 'b')"
    )
    expression = _metrics(model)["customers"]["expression"]
    for start, end in [("2025-01-01", "2025-02-01"), ("2025-01-20", "2025-02-03")]:
        shortcut = _rendered(expression, filter=[{"col": "sales_day", "op": "TEMPORAL_RANGE"}], from_dttm=f"{start}T00:00:00")
        where = f"sales_day >= '{start}' and sales_day < '{end}'"
        (counted,) = conn.execute(f"select {shortcut} from category_rows where {where}").fetchone()
        (distinct,) = conn.execute(f"select count(distinct customer_key) from category_rows where {where}").fetchone()
        assert counted == distinct > 0
    with pytest.raises(SemanticError, match="on_row, first_in_period"):
        del model["config"]["meta"]["metrics"][0]["counted_once"]["on_row"]
        del model["config"]["meta"]["metrics"][0]["counted_once"]["first_in_period"]
        metrics_of(model)
