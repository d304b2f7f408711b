"""Dashboards as code: the YAML is consistent and renders into an importable bundle."""

import copy
import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from ecom_superset.bundle import DASHBOARD_CSS, REPORTING_PERIOD, build_bundle, dashboard_export, load_assets, with_default_period
from ecom_superset.validate import DEFAULT_MANIFEST
from orchestration.dbt_cli import prepare_manifest

VALUES = {
    "BI_READER_USER": "bi_reader",
    "WAREHOUSE_HOST": "127.0.0.1",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_DATABASE": "warehouse",
}
# Without a manifest (which publication always has), the reporting currency is given like the rest.
VALUES_WITHOUT_MANIFEST = {**VALUES, "REPORTING_CURRENCY": "XTS"}
DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"
# The period publication chooses (ecom_superset/default_period.py) in place of the dashboards' `reporting period`.
CHOSEN_PERIOD = "2026-11-01 : 2026-12-01"


def _published_assets():
    return with_default_period(load_assets(values=VALUES_WITHOUT_MANIFEST), CHOSEN_PERIOD)


def test_uuids_are_unique_and_references_resolve():
    assets = load_assets(values=VALUES_WITHOUT_MANIFEST)
    everything = [a for kind in ("databases", "datasets", "charts", "dashboards") for a in getattr(assets, kind)]
    assert len({a.uuid for a in everything}) == len(everything)
    by_uuid = assets.by_uuid()
    for dataset in assets.datasets:
        assert by_uuid[dataset.spec["database_uuid"]].kind == "databases"
    for chart in assets.charts:
        assert by_uuid[chart.spec["dataset_uuid"]].kind == "datasets"
    for dashboard in assets.dashboards:
        assert assets.charts_of(dashboard), f"{dashboard.name} has no charts"


def test_bundle_layout_and_placeholders():
    assets = _published_assets()
    bundle = build_bundle(assets, datasets=assets.datasets, charts=assets.charts, dashboards=assets.dashboards)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        names = archive.namelist()
        assert {name.split("/")[0] for name in names} == {"ecommerce_analytics"}
        assert yaml.safe_load(archive.read("ecommerce_analytics/metadata.yaml"))["type"] == "assets"
        database = yaml.safe_load(archive.read("ecommerce_analytics/databases/warehouse.yaml"))
        assert database["sqlalchemy_uri"] == "postgresql+psycopg2://bi_reader:XXXXXXXXXX@127.0.0.1:5432/warehouse"
        for name in names:
            if "/charts/" in name:
                chart = yaml.safe_load(archive.read(name))
                assert json.loads(chart["query_context"])["queries"], name


def test_dashboard_positions_reference_chart_uuids():
    assets = _published_assets()
    datasets = {d.uuid: d for d in assets.datasets}
    for dashboard in assets.dashboards:
        charts = assets.charts_of(dashboard)
        export = dashboard_export(dashboard, charts, datasets)
        chart_nodes = [node for node in export["position"].values() if isinstance(node, dict) and node.get("type") == "CHART"]
        assert {node["meta"]["uuid"] for node in chart_nodes} == {c.uuid for c in charts}
        for node in chart_nodes:
            assert node["id"] in export["position"][node["parents"][-1]]["children"]


@pytest.fixture(scope="module")
def manifest():
    prepare_manifest()
    return json.loads(DEFAULT_MANIFEST.read_text())


def _monetary_currency(assets) -> str:
    chart = next(chart for chart in assets.charts if chart.name == "customers_top")
    return chart.spec["params"]["column_config"]["monetary"]["currencyFormat"]["symbol"]


def test_a_chart_column_gets_the_reporting_currency_of_the_dbt_project(manifest):
    """customers_top formats the plain column `monetary` as an amount: its currency symbol is the dbt
    var reporting_currency, as the manifest's metric formats carry it, and follows it."""
    declared = yaml.safe_load(DBT_PROJECT.read_text())["vars"]["reporting_currency"]
    assert _monetary_currency(load_assets(values=VALUES, manifest=manifest)) == declared
    in_usd = copy.deepcopy(manifest)
    for node in in_usd["nodes"].values():
        for metric in node["config"].get("meta", {}).get("metrics", []):
            if (metric.get("format") or {}).get("currency"):
                metric["format"]["currency"] = "USD"
    assets = load_assets(values=VALUES, manifest=in_usd)
    assert _monetary_currency(assets) == "USD"
    bundle = build_bundle(assets, datasets=[], charts=assets.charts, dashboards=[])
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        exported = yaml.safe_load(archive.read("ecommerce_analytics/charts/customers_top.yaml"))
        assert not [name for name in archive.namelist() if "${" in archive.read(name).decode()]
    assert exported["params"]["column_config"]["monetary"]["currencyFormat"] == {"symbol": "USD", "symbolPosition": "prefix"}


def test_every_dashboard_gets_the_phone_css_before_its_own():
    assets = _published_assets()
    datasets = {d.uuid: d for d in assets.datasets}
    shared = DASHBOARD_CSS.read_text()
    assert "@media (max-width: 767px)" in shared
    for dashboard in assets.dashboards:
        assert dashboard_export(dashboard, assets.charts_of(dashboard), datasets)["css"].startswith(shared), dashboard.name
    sales = next(d for d in assets.dashboards if d.name == "sales_overview")
    with_own_css = copy.deepcopy(sales)
    with_own_css.spec["css"] = ".header-title { color: red; }"
    css = dashboard_export(with_own_css, assets.charts_of(sales), datasets)["css"]
    assert css == shared + "\n.header-title { color: red; }"


def test_every_date_filter_opens_on_the_period_chosen_at_publication():
    assets = load_assets(values=VALUES_WITHOUT_MANIFEST)
    datasets = {d.uuid: d for d in assets.datasets}
    date_filters = [spec for d in assets.dashboards for spec in d.spec["filters"] if spec["type"] == "filter_time"]
    assert len(date_filters) == len(assets.dashboards)
    assert {spec["default"] for spec in date_filters} == {REPORTING_PERIOD}
    # Unchosen, the symbolic default never reaches Superset (it would read it as a range it cannot parse).
    with pytest.raises(ValueError, match="chosen at publication"):
        dashboard_export(assets.dashboards[0], assets.charts_of(assets.dashboards[0]), datasets)
    published = _published_assets()
    for dashboard in published.dashboards:
        export = dashboard_export(dashboard, published.charts_of(dashboard), datasets)
        natives = {native["filterType"]: native for native in export["metadata"]["native_filter_configuration"]}
        mask = natives["filter_time"]["defaultDataMask"]
        assert mask["filterState"]["value"] == mask["extraFormData"]["time_range"] == CHOSEN_PERIOD
    # The other filters' defaults are untouched (the time grain's day).
    sales = next(d for d in published.dashboards if d.name == "sales_overview")
    assert next(spec for spec in sales.spec["filters"] if spec["type"] == "filter_timegrain")["default"] == "P1D"
