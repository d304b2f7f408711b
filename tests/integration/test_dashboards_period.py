"""The Products and Customers dashboards for a chosen period, category and country, through Superset's
REST API on the throw-away stack: each chart's saved query gets the dashboard's native filters as the
dashboard applies them (only where the filter's scope reaches the chart), and its numbers must equal
SQL over the marts, and differ from the unfiltered ones. Also: the cohort heatmap labels each cohort
with its size, and the Country filters select by country name."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from ecom_superset.bundle import AssetSet
from ecom_superset.publisher import Superset
from orchestration.resources import resources_for
from orchestration.superset_assets import _connect

pytestmark = pytest.mark.integration

# February 2025: inside the stack's 90 days from 2025-01-01, with data before and after it.
PERIOD = ("2025-02-01", "2025-03-01")
TIME_RANGE = f"{PERIOD[0]} : {PERIOD[1]}"


@pytest.fixture(scope="module")
def published(stack) -> tuple[Superset, AssetSet]:
    return _connect(resources_for(stack.settings, secrets_from_environment=False)["superset"])


def _native_filters(superset: Superset, slug: str) -> dict[str, dict]:
    found = superset._checked(superset.client.get(superset._api(f"dashboard/{slug}")), slug)["result"]
    return {native["name"]: native for native in json.loads(found["json_metadata"])["native_filter_configuration"]}


def _chart_data(superset: Superset, assets: AssetSet, name: str, natives: dict[str, dict], selected: dict) -> list[dict]:
    """The chart's data with the `selected` values of the dashboard's native filters (by filter name;
    a time range for a filter_time, a list of values for a filter_select), applied as the dashboard
    does: a filter reaches the chart only if the chart is in its scope."""
    chart = next(chart for chart in assets.charts if chart.name == name)
    chart_id = superset.id_by_uuid("chart", chart.uuid)
    saved = superset._checked(superset.client.get(superset._api(f"chart/{chart_id}")), name)["result"]
    context = json.loads(saved["query_context"])
    context.update(force=True, result_format="json", result_type="full")
    query = context["queries"][0]
    for filter_name, value in selected.items():
        native = natives[filter_name]
        if chart_id in native["scope"]["excluded"]:
            continue
        if native["filterType"] == "filter_time":
            for query_filter in query["filters"]:
                if query_filter["op"] == "TEMPORAL_RANGE":
                    query_filter["val"] = value
        else:
            query["filters"].append({"col": native["targets"][0]["column"]["name"], "op": "IN", "val": value})
    response = superset._checked(superset.client.post(superset._api("chart/data"), json=context), f"{name} data")
    return response["result"][0]["data"]


def _in_scope(superset: Superset, assets: AssetSet, native: dict, name: str) -> bool:
    chart = next(chart for chart in assets.charts if chart.name == name)
    return superset.id_by_uuid("chart", chart.uuid) not in native["scope"]["excluded"]


def _number(value) -> Decimal:
    return Decimal(str(value))


def test_the_products_figures_are_those_of_the_period_category_and_country(stack, published):
    superset, assets = published
    natives = _native_filters(superset, "products")
    # An explicit range chosen at publication (tests/integration/test_dashboards_default_period.py), not a relative one.
    assert re.fullmatch(r"\d{4}-\d{2}-01 : \d{4}-\d{2}-\d{2}", natives["Order date"]["defaultDataMask"]["filterState"]["value"])
    assert natives["Country"]["targets"][0]["column"]["name"] == "country_name"
    with stack.warehouse() as conn:
        category, country = conn.execute(
            "select category, country_name from marts.product_sales_daily where order_date >= %s and order_date < %s"
            " group by 1, 2 order by sum(net_revenue) desc limit 1",
            PERIOD,
        ).fetchone()
        period_filter = "order_date >= %s and order_date < %s and category = %s and country_name = %s"
        net_revenue, net_units, products, units_sold, units_returned = conn.execute(
            "select sum(net_revenue), sum(net_units), count(distinct product_id), sum(units_sold), sum(units_returned)"
            f" from marts.product_sales_daily where {period_filter}",
            (*PERIOD, category, country),
        ).fetchone()
        top_products = conn.execute(
            f"select product_name, sum(net_revenue) from marts.product_sales_daily where {period_filter}"
            " group by product_name order by 2 desc, 1 limit 15",
            (*PERIOD, category, country),
        ).fetchall()
        lifetime_revenue = conn.execute("select sum(net_revenue) from marts.product_sales_daily").fetchone()[0]
    assert len(country) > 2, f"the country filter offers names, not codes: {country!r}"
    selected = {"Order date": TIME_RANGE, "Category": [category], "Country": [country]}

    def figure(name: str, metric: str, filters=selected) -> Decimal:
        rows = _chart_data(superset, assets, name, natives, filters)
        return _number(rows[0][metric])

    assert figure("products_net_revenue", "net_revenue") == net_revenue
    assert figure("products_net_revenue", "net_revenue", {"Order date": "No filter"}) == lifetime_revenue
    assert net_revenue < lifetime_revenue
    assert figure("products_net_units", "net_units") == net_units
    assert figure("products_count", "products") == products
    assert units_sold > 0
    assert figure("products_return_rate", "return_rate") == pytest.approx(units_returned / units_sold, rel=Decimal("1e-9"))

    rows = _chart_data(superset, assets, "products_top_by_revenue", natives, selected)
    assert sorted((row["product_name"], _number(row["net_revenue"])) for row in rows) == sorted(top_products)

    # The category table and the share: one category selected, so it holds 100 % of the net revenue.
    rows = _chart_data(superset, assets, "products_category_table", natives, selected)
    assert [(row["category"], _number(row["net_revenue"])) for row in rows] == [(category, net_revenue)]
    assert rows[0]["%net_revenue"] == pytest.approx(1.0)


def test_the_products_return_rates_list_only_products_with_ten_units_sold_in_the_period(stack, published):
    superset, assets = published
    natives = _native_filters(superset, "products")
    with stack.warehouse() as conn:
        expected = conn.execute(
            "select product_name, sum(units_sold), sum(units_returned) from marts.product_sales_daily"
            " where order_date >= %s and order_date < %s group by product_name having sum(units_sold) >= 10",
            PERIOD,
        ).fetchall()
    rows = _chart_data(superset, assets, "products_highest_return_rates", natives, {"Order date": TIME_RANGE})
    assert rows, "no product sold 10 units in the period"
    expected_by_name = {name: (sold, returned) for name, sold, returned in expected}
    for row in rows:
        sold, returned = expected_by_name[row["product_name"]]
        assert (_number(row["units_sold"]), _number(row["units_returned"])) == (sold, returned)


def test_the_customer_figures_follow_the_period_and_the_country(stack, published):
    superset, assets = published
    natives = _native_filters(superset, "customers")
    assert natives["Country"]["targets"][0]["column"]["name"] == "country_name"
    with stack.warehouse() as conn:
        country = conn.execute(
            "select country_name from marts.customer_segments group by 1 order by count(*) desc limit 1"
        ).fetchone()[0]
        # Computed from the orders and the customers' first orders, not from customer_activity_daily.
        active, orders = conn.execute(
            "select count(distinct o.customer_id), count(*) from marts.fct_orders as o"
            " join marts.customer_segments as s on s.customer_id = o.customer_id"
            " where o.has_sale and o.order_date >= %s and o.order_date < %s and s.country_name = %s",
            (*PERIOD, country),
        ).fetchone()
        new = conn.execute(
            "select count(*) from marts.customer_segments where first_order_date >= %s and first_order_date < %s"
            " and country_name = %s",
            (*PERIOD, country),
        ).fetchone()[0]
        all_customers = conn.execute("select count(*) from marts.customer_segments").fetchone()[0]
    assert len(country) > 2, f"the country filter offers names, not codes: {country!r}"
    selected = {"Order date": TIME_RANGE, "Country": [country]}

    def figure(name: str, metric: str, filters=selected) -> Decimal:
        return _number(_chart_data(superset, assets, name, natives, filters)[0][metric])

    assert figure("customers_total", "customers") == active
    assert figure("customers_total", "customers", {"Order date": "No filter"}) == all_customers
    assert active < all_customers
    assert figure("customers_avg_orders", "avg_orders") == pytest.approx(Decimal(orders) / active)
    new_per_month = _chart_data(superset, assets, "customers_new", natives, selected)
    assert sum(_number(row["new_customers"] or 0) for row in new_per_month) == new

    # Lifetime value is as of today: out of the Order date filter's scope, and its title says so;
    # the country applies.
    assert not _in_scope(superset, assets, natives["Order date"], "customers_avg_lifetime_value")
    assert _in_scope(superset, assets, natives["Country"], "customers_avg_lifetime_value")
    lifetime_chart = next(chart for chart in assets.charts if chart.name == "customers_avg_lifetime_value")
    assert "lifetime" in lifetime_chart.spec["slice_name"].lower()
    # The cohorts have no country: out of the Country filter's scope, and their titles say so.
    for name in ("customers_cohort_retention", "customers_new_vs_returning"):
        assert not _in_scope(superset, assets, natives["Country"], name)
        assert "all countries" in next(c for c in assets.charts if c.name == name).spec["slice_name"]


def test_the_cohort_heatmap_labels_each_cohort_with_its_size(stack, published):
    superset, assets = published
    natives = _native_filters(superset, "customers")
    rows = _chart_data(superset, assets, "customers_cohort_retention", natives, {})
    with stack.warehouse() as conn:
        sizes = dict(conn.execute("select to_char(cohort_month, 'YYYY-MM'), cohort_size from marts.cohort_retention").fetchall())
    labels = {row["cohort_label"] for row in rows}
    assert len(labels) == len(sizes) >= 2
    for label in labels:
        month, size = re.fullmatch(r"(\d{4}-\d{2}) \((\d+) customers?\)", label).groups()
        assert int(size) == sizes[month]


def test_the_customer_and_country_marts_have_country_names(stack):
    with stack.warehouse() as conn:
        for mart in ("customer_segments", "customer_value_by_score", "country_performance", "product_sales_daily"):
            names = dict(conn.execute(f"select distinct country_code, country_name from marts.{mart}").fetchall())
            assert names.get("DE") == "Germany", mart
            assert all(name for name in names.values()), mart
