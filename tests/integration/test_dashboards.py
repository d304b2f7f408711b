"""The three dashboards through Superset's REST API on the throw-away stack: they exist, every chart
returns rows, filters change the numbers (and the numbers match the marts to the cent), publishing
again duplicates nothing, and a column a mart gains reaches its dataset."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ecom_superset.bundle import AssetSet
from ecom_superset.default_period import reporting_today
from ecom_superset.publisher import Superset, publish_dataset
from orchestration.resources import resources_for
from orchestration.superset_assets import _connect, publish_dashboards_for

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

    def whole_history(query):
        _set_time_range(query, "No filter")

    everything = _chart_data(superset, chart_id, whole_history)
    all_countries = _total(everything, "net_revenue")
    country = max(everything, key=lambda row: row["net_revenue"])["country_name"]

    def only_country(query):
        whole_history(query)
        query["filters"].append({"col": "country_name", "op": "IN", "val": [country]})

    one_country = _total(_chart_data(superset, chart_id, only_country), "net_revenue")
    assert 0 < one_country < all_countries
    with stack.warehouse() as conn:
        in_mart = conn.execute("select sum(net_revenue) from marts.sales_daily where country_name = %s", (country,)).fetchone()[0]
        lines_total = conn.execute("select sum(net_revenue) from marts.sales_daily_by_category_country").fetchone()[0]
    assert one_country == in_mart, "the chart's number differs from the mart"
    assert all_countries == lines_total, "sales_daily adds up to the same revenue as the lines"

    # The same filter on the revenue over time (its comparison with a year ago needs a range with both
    # ends): its daily series adds up to the same amount.
    def only_country_in_a_range(query):
        only_country(query)
        _set_time_range(query, "2000-01-01 : 2100-01-01")

    over_time = superset.id_by_uuid("chart", _chart(assets, "sales_revenue_over_time").uuid)
    assert _total(_chart_data(superset, over_time, only_country_in_a_range), "net_revenue") == in_mart


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


# The key figures: (chart with the previous period, chart with last year, metric).
KEY_FIGURES = [
    ("sales_net_revenue", "sales_kpi_net_revenue_last_year", "net_revenue"),
    ("sales_kpi_orders", "sales_kpi_orders_last_year", "orders"),
    ("sales_kpi_avg_order_value", "sales_kpi_avg_order_value_last_year", "avg_order_value"),
    ("sales_kpi_customers", "sales_kpi_customers_last_year", "customers"),
    ("sales_returns_total", "sales_kpi_returns_last_year", "refunded_amount"),
]
# The same figures computed in SQL from the mart, over the rows the filters select.
FIGURES_SQL = """
    select
        sum(net_revenue) as net_revenue,
        count(distinct order_id) filter (where orders > 0) as orders,
        sum(gross_revenue) / nullif(count(distinct order_id) filter (where orders > 0), 0) as avg_order_value,
        count(distinct customer_id) filter (where customers > 0) as customers,
        sum(refunded_amount) as refunded_amount
    from marts.sales_orders_daily
    where order_date >= %(since)s and order_date < %(until)s
        and category = any(%(categories)s) and country_name = any(%(countries)s) and sales_channel = any(%(channels)s)
"""


def _set_time_range(query: dict, time_range: str) -> None:
    """What the Order date filter does to a chart's query: its time range replaces the chart's."""
    for query_filter in query["filters"]:
        if query_filter["op"] == "TEMPORAL_RANGE":
            query_filter["val"] = time_range


def _as_figure(metric: str, value) -> Decimal:
    """A value as the SQL above gives it: no rows is 0 for counts and amounts; the ratio comes as a
    float from Superset, compared to the 4th decimal place."""
    figure = Decimal(str(value)) if value is not None else Decimal("0")
    return figure.quantize(Decimal("0.0001")) if metric == "avg_order_value" else figure


def test_the_key_figures_follow_every_filter_and_equal_the_mart(stack, published):
    """Each key figure, with a date range, a category, a country and a sales channel applied as the
    dashboard's native filters apply them, equals the same figure computed in SQL from the mart, and
    so do its previous period (the same number of days just before) and last year's value."""
    superset, assets = published
    since, until = date(2025, 2, 1), date(2025, 3, 1)
    with stack.warehouse() as conn:
        category, country, channel = conn.execute(
            "select category, country_name, sales_channel from marts.sales_orders_daily"
            " where order_date >= %s and order_date < %s and sales_channel is not null"
            " group by 1, 2, 3 order by count(distinct order_id) desc limit 1",
            (since, until),
        ).fetchone()
        selection = {"categories": [category], "countries": [country], "channels": [channel]}
        everything = {
            "categories": _all(conn, "category"),
            "countries": _all(conn, "country_name"),
            "channels": _all(conn, "sales_channel"),
        }

        def figures(start: date, end: date, rows: dict) -> dict:
            cursor = conn.execute(FIGURES_SQL, {"since": start, "until": end, **rows})
            values = cursor.fetchone()
            return {column.name: _as_figure(column.name, value) for column, value in zip(cursor.description, values)}

        selected = figures(since, until, selection)
        unfiltered = figures(since, until, everything)
        length = until - since
        previous = figures(since - length, since, selection)
        last_year = figures(since.replace(year=since.year - 1), until.replace(year=until.year - 1), selection)
    assert 0 < selected["orders"] < unfiltered["orders"], "the filters must select some orders, not all"
    assert previous["orders"] > 0, "the previous period must have orders to compare with"

    def filtered(query):
        _set_time_range(query, f"{since.isoformat()} : {until.isoformat()}")
        query["filters"] += [
            {"col": "category", "op": "IN", "val": [category]},
            {"col": "country_name", "op": "IN", "val": [country]},
            {"col": "sales_channel", "op": "IN", "val": [channel]},
        ]

    for against_previous, against_last_year, metric in KEY_FIGURES:
        [row] = _chart_data(superset, superset.id_by_uuid("chart", _chart(assets, against_previous).uuid), filtered)
        assert _as_figure(metric, row[metric]) == selected[metric], against_previous
        assert _as_figure(metric, row[f"{metric}__inherit"]) == previous[metric], f"{against_previous}: previous period"
        [row] = _chart_data(superset, superset.id_by_uuid("chart", _chart(assets, against_last_year).uuid), filtered)
        assert _as_figure(metric, row[metric]) == selected[metric], against_last_year
        assert _as_figure(metric, row[f"{metric}__1 year ago"]) == last_year[metric], f"{against_last_year}: last year"


def _all(conn, column: str) -> list:
    return [row[0] for row in conn.execute(f"select distinct {column} from marts.sales_orders_daily").fetchall()]


def test_days_without_orders_are_zeros_in_the_revenue_over_time(stack, published):
    """Filtered to one category and country, the daily series has every day of the range, zero on the
    days without a sale, each equal to the mart; by week it adds up the same days."""
    superset, assets = published
    since, until = date(2025, 3, 1), date(2025, 4, 15)  # the data ends in March: April has no orders
    with stack.warehouse() as conn:
        category, country = conn.execute(
            "select category, country_name from marts.sales_orders_daily group by 1, 2 order by count(*) limit 1"
        ).fetchone()
        in_mart = dict(
            conn.execute(
                "select order_date, sum(net_revenue) from marts.sales_orders_daily"
                " where category = %s and country_name = %s group by order_date",
                (category, country),
            ).fetchall()
        )
    chart_id = superset.id_by_uuid("chart", _chart(assets, "sales_revenue_over_time").uuid)

    def one_combination(grain: str):
        def change(query):
            _set_time_range(query, f"{since.isoformat()} : {until.isoformat()}")
            query["filters"] += [
                {"col": "category", "op": "IN", "val": [category]},
                {"col": "country_name", "op": "IN", "val": [country]},
            ]
            query["columns"][0]["timeGrain"] = grain
            query["extras"]["time_grain_sqla"] = grain

        return change

    days = _chart_data(superset, chart_id, one_combination("P1D"))
    by_day = {_day(row["order_date"]): Decimal(str(row["net_revenue"])) for row in days}
    expected = {since + timedelta(n): in_mart.get(since + timedelta(n), Decimal("0")) for n in range((until - since).days)}
    assert by_day == expected
    assert any(value == 0 for value in by_day.values()), "the range must have days without sales"
    assert all("net_revenue__1 year ago" in row for row in days), "the chart compares with a year ago"

    weeks = _chart_data(superset, chart_id, one_combination("P1W"))
    assert {_day(row["order_date"]).isoweekday() for row in weeks} == {1}
    assert sum(Decimal(str(row["net_revenue"])) for row in weeks) == sum(expected.values())


def _day(epoch_ms: int) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).date()


def test_the_week_and_month_under_way_are_left_out_of_the_charts_over_time(stack, published):
    superset, assets = published
    with stack.warehouse() as conn:
        first_incomplete_day, last_complete_month = conn.execute(
            "select min(order_date) filter (where is_current_period),"
            " (date_trunc('month', min(order_date) filter (where is_current_month)) - interval '1 month')::date"
            " from marts.sales_daily"
        ).fetchone()
    assert first_incomplete_day is not None, "sales_daily runs to today"

    def last_bucket(name: str) -> date:
        chart_id = superset.id_by_uuid("chart", _chart(assets, name).uuid)
        rows = _chart_data(superset, chart_id, lambda query: _set_time_range(query, "Last year"))
        return max(_day(row["order_date"]) for row in rows)

    assert last_bucket("sales_revenue_over_time") < first_incomplete_day
    assert last_bucket("sales_returns_over_time") < first_incomplete_day
    # By month, only the month under way is left out, not the last days of the month before that
    # belong to the week under way.
    assert last_bucket("sales_category_mix_per_month") == last_complete_month


def test_the_time_grains_are_day_to_year(published):
    superset, assets = published
    dataset_id = superset.id_by_uuid("dataset", assets.dataset_for_table("marts", "sales_daily").uuid)
    explore = superset._checked(
        superset.client.get(superset._api("explore/"), params={"datasource_id": dataset_id, "datasource_type": "table"}),
        "explore",
    )["result"]
    grains = {duration for duration, _name in explore["dataset"]["time_grain_sqla"] if duration}
    assert grains == {"P1D", "P1W", "P1M", "P3M", "P1Y"}


def test_publishing_again_duplicates_nothing(stack, published):
    superset, assets = published
    before = {kind: superset.count(kind) for kind in KINDS}
    ids_before = {d.uuid: superset.id_by_uuid("dashboard", d.uuid) for d in assets.dashboards}
    resources = resources_for(stack.settings, secrets_from_environment=False)
    today = reporting_today(datetime.now(UTC), stack.settings.reporting_timezone)
    _period, result = publish_dashboards_for(resources["superset"], resources["warehouse"], today)
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
