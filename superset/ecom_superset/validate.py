"""Check the dashboards-as-code against each other and against the dbt project (run in tests/CI).

Every chart must point at a dataset that exists, every dataset at a dbt model of the manifest whose
declarations make a dataset (a contract's data types, metrics over its columns), every chart field,
metric and filter at a column or metric of the dataset as dbt defines it, and every dashboard must be
declared as a dbt exposure that depends on the models its charts read. The dbt metrics' amounts must
share one currency, the reporting currency that fills the charts' `${REPORTING_CURRENCY}`.

    python -m ecom_superset.validate [path/to/manifest.json]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ecom_superset.bundle import ASSETS_DIR, Asset, AssetSet, load_assets
from ecom_superset.semantic import SemanticError, dataset_from_model, models_by_relation, reporting_currency

DEFAULT_MANIFEST = ASSETS_DIR.parent.parent / "dbt_project" / "target" / "manifest.json"
# Chart params that name dataset columns (either a name, or a list of names / adhoc objects).
COLUMN_PARAMS = ("x_axis", "granularity_sqla", "groupby", "columns", "all_columns", "series", "entity", "order_by_cols")
METRIC_PARAMS = ("metric", "metrics", "percent_metrics", "timeseries_limit_metric", "x", "y", "size", "secondary_metric")


def _names(value: Any) -> Iterator[str]:
    """Column or saved-metric names in a chart param; adhoc SQL expressions are not names."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _names(item)
    elif isinstance(value, dict) and value.get("expressionType") == "SIMPLE":
        column = value.get("column") or {}
        name = column.get("column_name") if isinstance(column, dict) else None
        if name:
            yield name
        elif isinstance(value.get("subject"), str):
            yield value["subject"]


def validate(assets: AssetSet, manifest: dict) -> list[str]:
    problems: list[str] = []
    models = models_by_relation(manifest)
    databases = {database.uuid for database in assets.databases}
    datasets = {dataset.uuid: dataset for dataset in assets.datasets}
    charts = {chart.uuid: chart for chart in assets.charts}
    dataset_columns: dict[str, set[str]] = {}
    dataset_metrics: dict[str, set[str]] = {}
    try:
        reporting_currency(manifest)  # the currency of ${REPORTING_CURRENCY} in the charts
    except SemanticError as error:
        problems.append(f"dbt project: {error}")

    for dataset in assets.datasets:
        where = f"datasets/{dataset.name}.yaml"
        spec = dataset.spec
        dataset_columns[dataset.uuid], dataset_metrics[dataset.uuid] = set(), set()
        if spec["database_uuid"] not in databases:
            problems.append(f"{where}: database {spec['database_uuid']} does not exist")
        model = models.get((spec["schema"], spec["table_name"]))
        if model is None:
            problems.append(f"{where}: no dbt model builds {spec['schema']}.{spec['table_name']}")
            continue
        try:
            published = dataset_from_model(spec, model)
        except SemanticError as error:
            problems.append(f"{where}: {error}")
            continue
        columns = {column["column_name"] for column in published["columns"]}
        dataset_columns[dataset.uuid] = columns
        dataset_metrics[dataset.uuid] = {metric["metric_name"] for metric in published["metrics"]}
        if spec.get("main_dttm_col") and spec["main_dttm_col"] not in columns:
            problems.append(f"{where}: main_dttm_col {spec['main_dttm_col']} is not one of its columns")

    for chart in assets.charts:
        where = f"charts/{chart.name}.yaml"
        dataset = datasets.get(str(chart.spec["dataset_uuid"]))
        if dataset is None:
            problems.append(f"{where}: dataset {chart.spec['dataset_uuid']} does not exist")
            continue
        columns = dataset_columns[dataset.uuid]
        metrics = dataset_metrics[dataset.uuid]
        params = chart.spec.get("params", {})
        if params.get("viz_type") != chart.spec["viz_type"]:
            problems.append(f"{where}: params.viz_type differs from viz_type")
        for param in COLUMN_PARAMS:
            for name in _names(params.get(param)):
                if name not in columns:
                    problems.append(f"{where}: {param} names {name!r}, not a column of dataset {dataset.name}")
        for param in METRIC_PARAMS:
            for name in _names(params.get(param)):
                if name not in metrics and name not in columns:
                    problems.append(f"{where}: {param} names {name!r}, neither a metric nor a column of {dataset.name}")
        for adhoc in params.get("adhoc_filters", []):
            for name in _names(adhoc):
                if name not in columns:
                    problems.append(f"{where}: a filter names {name!r}, not a column of dataset {dataset.name}")
        if not chart.spec.get("query_context"):
            problems.append(f"{where}: no query_context (the chart data API needs one)")

    exposures = {node["name"]: node for node in manifest.get("exposures", {}).values()}
    for dashboard in assets.dashboards:
        where = f"dashboards/{dashboard.name}.yaml"
        used: list[Asset] = []
        for row in dashboard.spec["rows"]:
            for cell in row:
                chart = charts.get(str(cell["chart"]))
                if chart is None:
                    problems.append(f"{where}: chart {cell['chart']} does not exist")
                else:
                    used.append(chart)
        for spec_filter in dashboard.spec.get("filters", []):
            if spec_filter["type"] == "filter_time":
                continue
            dataset = datasets.get(str(spec_filter.get("dataset")))
            if dataset is None:
                problems.append(f"{where}: filter {spec_filter['name']!r} targets a dataset that does not exist")
            elif spec_filter.get("column") not in dataset_columns[dataset.uuid]:
                problems.append(
                    f"{where}: filter {spec_filter['name']!r} targets {spec_filter.get('column')!r}, not a column of {dataset.name}"
                )
        exposure = exposures.get(dashboard.name)
        if exposure is None:
            problems.append(f"{where}: not declared as a dbt exposure named {dashboard.name}")
            continue
        slug = dashboard.spec.get("slug") or dashboard.uuid
        if not str(exposure.get("url", "")).rstrip("/").endswith(slug):
            problems.append(f"{where}: exposure {dashboard.name} has url {exposure.get('url')!r}, not the dashboard's")
        depends_on = set(exposure.get("depends_on", {}).get("nodes", []))
        for model_id in _models_read(used, datasets, models):
            if model_id not in depends_on:
                problems.append(f"{where}: exposure {dashboard.name} does not depend on {model_id}, which its charts read")
    return problems


def _models_read(charts: Iterable[Asset], datasets: dict[str, Asset], models: dict[tuple[str, str], dict]) -> set[str]:
    read = set()
    for chart in charts:
        dataset = datasets.get(str(chart.spec["dataset_uuid"]))
        model = dataset and models.get((dataset.spec["schema"], dataset.spec["table_name"]))
        if model:
            read.add(model["unique_id"])
    return read


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    manifest_path = Path(argv[0]) if argv else DEFAULT_MANIFEST
    problems = validate(load_assets(), json.loads(manifest_path.read_text()))
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in the dashboards as code" if problems else "dashboards as code: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
