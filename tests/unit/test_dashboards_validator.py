"""The dashboards-as-code validator passes on the repository and catches each kind of broken reference."""

import copy
import dataclasses
import json

import pytest

from ecom_superset.bundle import load_assets
from ecom_superset.validate import DEFAULT_MANIFEST, validate
from orchestration.dbt_cli import prepare_manifest


@pytest.fixture(scope="module")
def manifest():
    prepare_manifest()
    return json.loads(DEFAULT_MANIFEST.read_text())


def test_the_repository_dashboards_are_valid(manifest):
    assert validate(load_assets(), manifest) == []


def _with(assets, kind, index, change):
    items = list(getattr(assets, kind))
    spec = copy.deepcopy(items[index].spec)
    change(spec)
    items[index] = dataclasses.replace(items[index], spec=spec)
    return dataclasses.replace(assets, **{kind: items})


def test_a_chart_on_a_missing_dataset(manifest):
    broken = _with(load_assets(), "charts", 0, lambda spec: spec.update(dataset_uuid="00000000-0000-0000-0000-000000000000"))
    assert any("dataset 00000000-0000-0000-0000-000000000000 does not exist" in p for p in validate(broken, manifest))


def test_a_dataset_on_a_table_dbt_does_not_build(manifest):
    broken = _with(load_assets(), "datasets", 0, lambda spec: spec.update(table_name="no_such_mart"))
    assert any("no dbt model builds marts.no_such_mart" in p for p in validate(broken, manifest))


def test_a_dbt_metric_over_a_column_the_model_does_not_have(manifest):
    broken = copy.deepcopy(manifest)
    kpi_daily = broken["nodes"]["model.ecommerce_analytics.kpi_daily"]
    kpi_daily["config"]["meta"]["metrics"].append({"name": "ghost_total", "sum": "ghost"})
    assert any("metric ghost_total of dbt model kpi_daily names 'ghost'" in p for p in validate(load_assets(), broken))


def test_a_chart_metric_dbt_does_not_declare(manifest):
    broken = copy.deepcopy(manifest)
    for node in broken["nodes"].values():
        metrics = node["config"].get("meta", {}).get("metrics", [])
        node["config"].get("meta", {})["metrics"] = [m for m in metrics if m.get("name") != "avg_lifetime_value"]
    assert any("names 'avg_lifetime_value', neither a metric nor a column" in p for p in validate(load_assets(), broken))


def test_a_chart_field_that_is_not_a_column(manifest):
    def change(spec):
        spec["params"]["x_axis"] = "ghost_date"

    broken = _with(load_assets(), "charts", 0, change)
    assert any("x_axis names 'ghost_date'" in p for p in validate(broken, manifest))


def test_a_filter_on_a_column_that_does_not_exist(manifest):
    assets = load_assets()
    dataset = assets.datasets[0]

    def change(spec):
        spec.setdefault("filters", []).append(
            {"id": "NATIVE_FILTER-x", "name": "Ghost", "type": "filter_select", "dataset": dataset.uuid, "column": "ghost"}
        )

    broken = _with(assets, "dashboards", 0, change)
    assert any("filter 'Ghost' targets 'ghost'" in p for p in validate(broken, manifest))


def test_a_dashboard_that_is_not_an_exposure(manifest):
    without_exposures = {**manifest, "exposures": {}}
    assert any("not declared as a dbt exposure" in p for p in validate(load_assets(), without_exposures))


def test_dbt_amounts_in_more_than_one_currency(manifest):
    broken = copy.deepcopy(manifest)
    kpi_daily = broken["nodes"]["model.ecommerce_analytics.kpi_daily"]
    kpi_daily["config"]["meta"]["metrics"].append({"sum": "net_revenue", "name": "net_usd", "format": {"currency": "USD"}})
    assert any("not one reporting currency" in p for p in validate(load_assets(), broken))
