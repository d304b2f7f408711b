"""A Superset dataset's columns and metrics, translated from its dbt model in the dbt manifest.

The dbt project declares every measure once (dbt_project/models/marts/_marts.yml): a mart's columns
with their contract data types, descriptions and labels (`config.meta.label`), and the metrics a
selection of its rows adds up to (`config.meta.metrics`):

    {sum: column}                       SUM(column); name, label and description default to the column's
    {name, sum: column, where: SQL}     SUM(CASE WHEN <where> THEN column ELSE 0 END)
    {name, count: rows}                 COUNT(*); with `where`, the rows where it holds
    {name, count_distinct: column}      COUNT(DISTINCT column), for what repeats across rows (a customer
                                        active on several days); `where` applies as for `sum`
      counted_once: {on_row: SQL, first_in_period: column, exact_under_filters_on: [columns]}
                                        the same count without DISTINCT (no sort: it scales with the
                                        rows read) when the chart neither groups the rows nor filters
                                        them on a column outside the list (one value per counted
                                        thing): `on_row` is true on one row per counted thing
                                        (per day, with first_in_period); `first_in_period` holds its
                                        previous day, so its first day in the time range counts it
                                        (both: its first row of that day). A Jinja template
                                        (ENABLE_TEMPLATE_PROCESSING) chooses per query.
    {name, ratio: {numerator, denominator}}
                                        numerator / denominator, each a metric of the model (or else a
                                        column, summed): computed from the sums over the selected rows
    format: {d3format, currency}        how a value is shown (d3-format; the currency symbol of amounts)

A dataset YAML under superset/assets/datasets keeps what only Superset knows (uuid, database, main
time column, cache); its columns, metrics and description come from here at publication.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

# Contract data types Superset can put on a time axis and filter by a time range.
TEMPORAL_TYPES = {"date", "timestamp", "timestamp without time zone", "timestamptz", "timestamp with time zone"}
# Amounts and counts; a column of any other type (text, date, boolean, integer scores) is a dimension.
MEASURE_TYPES = {"numeric", "bigint", "double precision", "real"}


class SemanticError(ValueError):
    """The dbt declarations of a model cannot be turned into a Superset dataset."""


def models_by_relation(manifest: Mapping[str, Any]) -> dict[tuple[str, str], dict]:
    """dbt nodes by the relation Superset reads: the published schema (the model's configured one),
    not the candidate schema dbt builds it in before the pipeline publishes it."""
    return {
        (node["config"].get("schema") or node["schema"], node.get("alias") or node["name"]): node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }


def reporting_currency(manifest: Mapping[str, Any]) -> str:
    """The currency of the dbt project's amounts (dbt var `reporting_currency`), as the manifest holds
    it: the currency of every metric format of its models. Charts that format a plain column as an
    amount take their currency symbol from here (`${REPORTING_CURRENCY}`, see bundle.load_assets)."""
    currencies = {
        str(declaration["format"]["currency"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        for declaration in node["config"].get("meta", {}).get("metrics", [])
        if (declaration.get("format") or {}).get("currency")
    }
    if len(currencies) != 1:
        raise SemanticError(
            f"the dbt metrics declare {len(currencies)} currencies {sorted(currencies)}, not one reporting currency"
        )
    return currencies.pop()


def _humanized(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _metric_name(declaration: Mapping[str, Any]) -> str:
    return str(declaration.get("name") or declaration["sum"])


def _metric_label(declaration: Mapping[str, Any]) -> str:
    return str(declaration.get("label") or _humanized(_metric_name(declaration)))


def _counted_rows_sql(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _counted_once_sql(declaration: Mapping[str, Any], distinct_sql: str) -> str:
    """Superset renders metric expressions with Jinja, given the query's `columns`, `groupby`,
    `filter` (its filters, each with `col`) and `from_dttm` (the time range's start, ISO text)."""
    counted_once = declaration["counted_once"]
    conditions = [f"({declaration['where']})"] if "where" in declaration else []
    if "on_row" in counted_once:
        conditions.append(f"({counted_once['on_row']})")
    if "first_in_period" in counted_once:
        previous = counted_once["first_in_period"]
        start = "'{{ from_dttm[:10] }}'"
        conditions.append(f"({previous} IS NULL{{% if from_dttm %}} OR {previous} < {start}{{% endif %}})")
    if len(conditions) == (1 if "where" in declaration else 0):
        raise SemanticError(f"counted_once of metric {_metric_name(declaration)} needs on_row, first_in_period or both")
    condition = " AND ".join(conditions)
    exact_under = json.dumps(list(counted_once["exact_under_filters_on"]))
    other_filters = f"filter | map(attribute='col') | reject('in', {exact_under}) | list"
    return (
        f"{{% if columns or groupby or ({other_filters}) %}}{distinct_sql}{{% else %}}{_counted_rows_sql(condition)}{{% endif %}}"
    )


def _aggregate_sql(declaration: Mapping[str, Any]) -> str:
    if declaration.get("count") == "rows":
        return _counted_rows_sql(declaration["where"]) if "where" in declaration else "COUNT(*)"
    if "count_distinct" in declaration:
        counted = declaration["count_distinct"]
        if "where" in declaration:
            distinct_sql = f"COUNT(DISTINCT CASE WHEN {declaration['where']} THEN {counted} END)"
        else:
            distinct_sql = f"COUNT(DISTINCT {counted})"
        return _counted_once_sql(declaration, distinct_sql) if "counted_once" in declaration else distinct_sql
    if "where" in declaration:
        return f"SUM(CASE WHEN {declaration['where']} THEN {declaration['sum']} ELSE 0 END)"
    return f"SUM({declaration['sum']})"


def counted_distinct(expression: str) -> str:
    """A metric expression as plain SQL that counts distinct (`counted_once` left out): what Superset
    runs for a chart that groups its rows. Checks that recompute a figure from the marts use it."""
    return SandboxedEnvironment().from_string(expression).render(columns=[], groupby=["rows"], filter=[], from_dttm=None)


def metrics_of(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Superset metrics of a dbt model's `config.meta.metrics`."""
    declarations = model["config"].get("meta", {}).get("metrics", [])
    columns = model.get("columns", {})
    by_name = {_metric_name(declaration): declaration for declaration in declarations}

    def column(name: str, used_by: str) -> Mapping[str, Any]:
        if name not in columns:
            raise SemanticError(f"metric {used_by} of dbt model {model['name']} names {name!r}, not one of its columns")
        return columns[name]

    def operand_sql(name: str, used_by: str) -> str:
        if name in by_name and "ratio" not in by_name[name]:
            return _aggregate_sql(by_name[name])
        column(name, used_by)
        return f"SUM({name})"

    metrics = []
    for name, declaration in by_name.items():
        description = declaration.get("description")
        if "ratio" in declaration:
            ratio = declaration["ratio"]
            # CAST: SUM of an integer column is a bigint, and bigint / bigint truncates in PostgreSQL.
            expression = (
                f"CAST({operand_sql(ratio['numerator'], name)} AS NUMERIC) / NULLIF({operand_sql(ratio['denominator'], name)}, 0)"
            )
            metric_type = "ratio"
        elif declaration.get("count") == "rows":
            expression, metric_type = _aggregate_sql(declaration), "count"
        elif "count_distinct" in declaration:
            column(declaration["count_distinct"], name)
            counted_once = declaration.get("counted_once") or {}
            for named in [counted_once.get("first_in_period"), *counted_once.get("exact_under_filters_on", [])]:
                if named:
                    column(named, name)
            expression, metric_type = _aggregate_sql(declaration), "count_distinct"
        elif "sum" in declaration:
            summed = column(declaration["sum"], name)
            expression, metric_type = _aggregate_sql(declaration), "sum"
            description = description or summed.get("description")
        else:
            raise SemanticError(f"metric {name} of dbt model {model['name']} has no sum, count, count_distinct or ratio")
        metric: dict[str, Any] = {
            "metric_name": name,
            "verbose_name": _metric_label(declaration),
            "metric_type": metric_type,
            "expression": expression,
            "description": description,
        }
        number_format = declaration.get("format") or {}
        if number_format.get("d3format"):
            metric["d3format"] = number_format["d3format"]
        if number_format.get("currency"):
            metric["currency"] = {"symbol": number_format["currency"], "symbolPosition": "prefix"}
        metrics.append(metric)
    return metrics


def columns_of(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Superset columns of a dbt model with an enforced contract (every column has a data_type)."""
    metric_labels = {_metric_name(d): _metric_label(d) for d in model["config"].get("meta", {}).get("metrics", [])}
    columns = []
    for name, column in model.get("columns", {}).items():
        data_type = (column.get("data_type") or "").lower()
        if not data_type:
            raise SemanticError(f"column {name} of dbt model {model['name']} has no data_type (the model needs a contract)")
        label = column.get("config", {}).get("meta", {}).get("label") or metric_labels.get(name) or _humanized(name)
        columns.append(
            {
                "column_name": name,
                "verbose_name": label,
                "is_dttm": data_type in TEMPORAL_TYPES,
                "type": data_type.upper(),
                "groupby": data_type not in MEASURE_TYPES,
                "filterable": True,
                "description": column.get("description") or None,
            }
        )
    return columns


def dataset_from_model(spec: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset YAML's Superset-only settings completed with its dbt model's description, columns and
    metrics."""
    return {
        **spec,
        "description": spec.get("description") or model.get("description") or None,
        "columns": columns_of(model),
        "metrics": metrics_of(model),
    }
