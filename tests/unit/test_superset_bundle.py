"""Dashboards as code: the YAML is consistent and renders into an importable bundle."""

import io
import json
import zipfile

import yaml

from ecom_superset.bundle import build_bundle, dashboard_export, load_assets

VALUES = {
    "BI_READER_USER": "bi_reader",
    "WAREHOUSE_HOST": "127.0.0.1",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_DATABASE": "warehouse",
}


def test_uuids_are_unique_and_references_resolve():
    assets = load_assets(values=VALUES)
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
    assets = load_assets(values=VALUES)
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
    assets = load_assets(values=VALUES)
    datasets = {d.uuid: d for d in assets.datasets}
    for dashboard in assets.dashboards:
        charts = assets.charts_of(dashboard)
        export = dashboard_export(dashboard, charts, datasets)
        chart_nodes = [node for node in export["position"].values() if isinstance(node, dict) and node.get("type") == "CHART"]
        assert {node["meta"]["uuid"] for node in chart_nodes} == {c.uuid for c in charts}
        for node in chart_nodes:
            assert node["id"] in export["position"][node["parents"][-1]]["children"]
