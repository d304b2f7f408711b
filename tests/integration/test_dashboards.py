"""The three dashboards through Superset's REST API on the throw-away stack: they exist, every chart
returns rows, filters change the numbers (and the numbers match the marts to the cent), publishing
again duplicates nothing, and a column a mart gains reaches its dataset."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ecom_superset.bundle import AssetSet
from ecom_superset.publisher import Superset, publish_dashboards, publish_dataset
from orchestration.resources import resources_for
from orchestration.superset_assets import _connect

pytestmark = pytest.mark.integration

DASHBOARDS = {"sales_overview": "sales-overview", "customers": "customers", "products": "products"}
KINDS = ("dashboard", "chart", "dataset", "database")


@pytest.fixture(scope="module")
def published(stack) -> tuple[Superset, AssetSet]:
    """The stack's Superset and the assets with the stack's connection values filled in."""
    return _connect(resources_for(stack.settings, secrets_from_environment=False)["superset"])


def _chart(assets: AssetSet, name: str):
    return next(chart for chart in assets.charts if chart.name == name)


def _chart_data(superset: Superset, chart_id: int, change=None) -> list[dict]:
    """POST /api/v1/chart/data with the chart's saved query context, optionally changed first."""
    saved = superset._checked(superset.client.get(superset._api(f"chart/{chart_id}")), f"chart {chart_id}")["result"]
    context = json.loads(saved["query_context"])
    context.update(force=True, result_format="json", result_type="full")
    if change:
        change(context["queries"][0])
    response = superset._checked(superset.client.post(superset._api("chart/data"), json=context), f"chart {chart_id} data")
    return response["result"][0]["data"]


def _total(rows: list[dict], metric: str) -> Decimal:
    return sum((Decimal(str(row[metric])) for row in rows if row.get(metric) is not None), Decimal("0"))


def test_the_three_dashboards_exist_with_their_slugs_and_charts(published):
    superset, assets = published
    assert {dashboard.name: dashboard.spec["slug"] for dashboard in assets.dashboards} == DASHBOARDS
    for dashboard in assets.dashboards:
        slug = dashboard.spec["slug"]
        found = superset._checked(superset.client.get(superset._api(f"dashboard/{slug}")), f"dashboard {slug}")["result"]
        assert found["dashboard_title"] == dashboard.spec["dashboard_title"]
        assert found["published"] is True
        charts = superset._checked(superset.client.get(superset._api(f"dashboard/{slug}/charts")), f"charts of {slug}")["result"]
        assert sorted(chart["slice_name"] for chart in charts) == sorted(
            c.spec["slice_name"] for c in assets.charts_of(dashboard)
        )
        metadata = json.loads(found["json_metadata"])
        filters = {f["name"]: f["filterType"] for f in metadata["native_filter_configuration"]}
        assert filters == {f["name"]: f["type"] for f in dashboard.spec["filters"]}, slug


def test_every_chart_returns_rows(published):
    superset, assets = published
    empty = []
    for dashboard in assets.dashboards:
        for chart in assets.charts_of(dashboard):
            rows = superset.chart_rows(superset.id_by_uuid("chart", chart.uuid), force=True)
            if rows <= 0:
                empty.append(f"{dashboard.spec['dashboard_title']} / {chart.spec['slice_name']}")
    assert not empty, f"charts without rows: {empty}"


def test_chart_data_requests_are_logged_to_the_log_file_not_the_metadata_database(stack, published):
    superset, assets = published
    chart_id = superset.id_by_uuid("chart", assets.charts[0].uuid)
    assert superset.chart_rows(chart_id, force=True) > 0
    with stack.superuser("superset") as conn:
        in_database = conn.execute("select count(*) from logs where action = 'ChartDataRestApi.data'").fetchone()[0]
        other_events = conn.execute("select count(*) from logs").fetchone()[0]
    assert in_database == 0
    assert other_events > 0, "the other events (imports, lists, views) stay in Superset's log table"
    log = (stack.settings.log_dir / "superset.log").read_text()
    assert f"superset.events:ChartDataRestApi.data user=1 /api/v1/chart/{chart_id}/data/ " in log


def test_a_country_filter_changes_the_numbers_and_they_match_the_mart(stack, published):
    superset, assets = published
    chart_id = superset.id_by_uuid("chart", _chart(assets, "sales_revenue_by_country").uuid)
    everything = _chart_data(superset, chart_id)
    all_countries = _total(everything, "net_revenue")
    country = max(everything, key=lambda row: row["net_revenue"])["country_code"]

    def only_country(query):
        query["filters"].append({"col": "country_code", "op": "IN", "val": [country]})

    one_country = _total(_chart_data(superset, chart_id, only_country), "net_revenue")
    assert 0 < one_country < all_countries
    with stack.warehouse() as conn:
        in_mart = conn.execute(
            "select sum(net_revenue) from marts.sales_daily_by_category_country where country_code = %s", (country,)
        ).fetchone()[0]
        mart_total = conn.execute("select sum(net_revenue) from marts.sales_daily_by_category_country").fetchone()[0]
    assert one_country == in_mart, "the chart's number differs from the mart"
    assert all_countries == mart_total

    # The same filter on the revenue over time: its daily series adds up to the same amount.
    over_time = superset.id_by_uuid("chart", _chart(assets, "sales_revenue_over_time").uuid)
    assert _total(_chart_data(superset, over_time, only_country), "net_revenue") == in_mart


def test_a_category_filter_changes_the_products_numbers(stack, published):
    superset, assets = published
    chart_id = superset.id_by_uuid("chart", _chart(assets, "products_net_revenue").uuid)
    with stack.warehouse() as conn:
        category, in_mart = conn.execute(
            "select category, sum(net_revenue) from marts.product_sales_daily group by category order by 2 desc limit 1"
        ).fetchone()

    def only_category(query):
        query["filters"].append({"col": "category", "op": "IN", "val": [category]})

    assert _total(_chart_data(superset, chart_id, only_category), "net_revenue") == in_mart
    assert _total(_chart_data(superset, chart_id), "net_revenue") > in_mart


def test_a_time_range_changes_the_key_figures(stack, published):
    superset, assets = published
    chart_id = superset.id_by_uuid("chart", _chart(assets, "sales_net_revenue").uuid)
    months = _chart_data(superset, chart_id)
    assert len(months) >= 2, "the key figure needs two complete months to compare"
    with stack.warehouse() as conn:
        last = conn.execute(
            "select period_start, net_revenue from marts.revenue_trends where grain = 'month' and is_complete_period"
            " order by period_start desc limit 1"
        ).fetchone()
    assert Decimal(str(months[-1]["net_revenue"])) == last[1]

    def until_last_month(query):
        for query_filter in query["filters"]:
            if query_filter["op"] == "TEMPORAL_RANGE":
                query_filter["val"] = f"1900-01-01 : {last[0].isoformat()}"

    earlier = _chart_data(superset, chart_id, until_last_month)
    assert len(earlier) == len(months) - 1
    assert earlier == months[:-1]


def test_publishing_again_duplicates_nothing(stack, published):
    superset, assets = published
    before = {kind: superset.count(kind) for kind in KINDS}
    ids_before = {d.uuid: superset.id_by_uuid("dashboard", d.uuid) for d in assets.dashboards}
    result = publish_dashboards(superset, assets, stack.settings.bi_reader_password)
    assert [d.title for d in result] == [d.spec["dashboard_title"] for d in assets.dashboards]
    assert all(chart.rows > 0 for d in result for chart in d.charts)
    assert {kind: superset.count(kind) for kind in KINDS} == before
    assert {d.uuid: superset.id_by_uuid("dashboard", d.uuid) for d in assets.dashboards} == ids_before


def test_a_column_a_mart_gains_shows_in_its_dataset(stack, published):
    superset, assets = published
    dataset = assets.dataset_for_table("marts", "category_performance")

    def columns() -> set[str]:
        dataset_id = superset.id_by_uuid("dataset", dataset.uuid)
        found = superset._checked(superset.client.get(superset._api(f"dataset/{dataset_id}")), "dataset")["result"]
        return {column["column_name"] for column in found["columns"]}

    with stack.warehouse(autocommit=True) as conn:
        conn.execute("alter table marts.category_performance add column test_extra int")
    try:
        publish_dataset(superset, assets, dataset, stack.settings.bi_reader_password)
        assert "test_extra" in columns()
    finally:
        with stack.warehouse(autocommit=True) as conn:
            conn.execute("alter table marts.category_performance drop column if exists test_extra")
    publish_dataset(superset, assets, dataset, stack.settings.bi_reader_password)
    assert "test_extra" not in columns()
    assert {column["column_name"] for column in dataset.spec["columns"]} <= columns()


def test_every_filter_scopes_only_charts_that_have_its_column(published):
    """A native filter must never reach a chart whose dataset lacks the column (it would be ignored
    there, or break the query)."""
    superset, assets = published
    datasets = {dataset.uuid: dataset for dataset in assets.datasets}
    for dashboard in assets.dashboards:
        slug = dashboard.spec["slug"]
        found = superset._checked(superset.client.get(superset._api(f"dashboard/{slug}")), slug)["result"]
        chart_ids = {superset.id_by_uuid("chart", c.uuid): c for c in assets.charts_of(dashboard)}
        for native in json.loads(found["json_metadata"])["native_filter_configuration"]:
            column = (native["targets"][0].get("column") or {}).get("name")
            if native["filterType"] != "filter_select":
                continue
            in_scope = [chart for chart_id, chart in chart_ids.items() if chart_id not in native["scope"]["excluded"]]
            assert in_scope, f"{slug}: filter {native['name']} applies to no chart"
            for chart in in_scope:
                columns = {c["column_name"] for c in datasets[chart.spec["dataset_uuid"]].spec["columns"]}
                assert column in columns, f"{slug}: filter {native['name']} reaches {chart.spec['slice_name']}"
