"""The dashboards' default period on the throw-away stack (3000 orders, 90 days from 2025-01-01):
published with an injected `today`, every dashboard's Order date filter opens on month to date for a
shop with less than a month of data, or on the last complete month; the Sales overview's Net revenue
card, queried with that default as the dashboard applies it, equals the marts for those days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import pytest

from ecom_superset.dashboard_filters import filtered_query_context
from ecom_superset.default_period import reporting_today
from orchestration.resources import resources_for
from orchestration.superset_assets import DASHBOARDS, _connect, publish_dashboards_for, shop_default_period

pytestmark = pytest.mark.integration

SLUGS = ("sales-overview", "customers", "products")


@pytest.fixture(scope="module")
def publish(stack):
    """Publishes the dashboards for a given `today`; at the end, again for the real today, as every
    pipeline run does (the other tests share the stack)."""
    resources = resources_for(stack.settings, secrets_from_environment=False)

    def publish_for(today: date):
        return publish_dashboards_for(resources["superset"], resources["warehouse"], today)

    yield publish_for
    publish_for(reporting_today(datetime.now(UTC), stack.settings.reporting_timezone))


def _default_masks(superset, slug: str) -> dict:
    found = superset._checked(superset.client.get(superset._api(f"dashboard/{slug}")), slug)["result"]
    natives = json.loads(found["json_metadata"])["native_filter_configuration"]
    [order_date] = [native for native in natives if native["filterType"] == "filter_time"]
    return order_date["defaultDataMask"]


def _net_revenue_card(stack, extra_form_data: dict) -> Decimal | None:
    """The Sales overview's Net revenue card with the dashboard's default Order date filter applied."""
    superset, assets = _connect(resources_for(stack.settings, secrets_from_environment=False)["superset"])
    chart = next(chart for chart in assets.charts if chart.name == "sales_net_revenue")
    chart_id = superset.id_by_uuid("chart", chart.uuid)
    saved = superset._checked(superset.client.get(superset._api(f"chart/{chart_id}")), "sales_net_revenue")["result"]
    context = filtered_query_context(json.loads(saved["query_context"]), [extra_form_data])
    context.update(force=True, result_format="json", result_type="full")
    response = superset._checked(superset.client.post(superset._api("chart/data"), json=context), "net revenue data")
    [row] = response["result"][0]["data"]
    return None if row["net_revenue"] is None else Decimal(str(row["net_revenue"]))


def _mart_net_revenue(stack, since: str, until: str) -> Decimal:
    with stack.warehouse() as conn:
        return conn.execute(
            "select sum(net_revenue) from marts.sales_daily where order_date >= %s and order_date < %s", (since, until)
        ).fetchone()[0]


def test_the_pipeline_run_publishes_the_period_of_today_and_records_why(stack, monkeypatch):
    """The stack's `ecom run` (as the daily schedule runs it) chose the period for the real today: the
    last complete month, as the data starts long before it; its materialization says which and why."""
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, stack.settings.stack_env()[name])
    event = dg.DagsterInstance.get().get_latest_materialization_event(DASHBOARDS)
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    today = reporting_today(datetime.now(UTC), stack.settings.reporting_timezone)
    expected = shop_default_period(resources_for(stack.settings, secrets_from_environment=False)["warehouse"], today)
    assert expected.label.startswith("Last complete month")
    assert metadata["default_period"] == f"{expected.label}: {expected.time_range} (end excluded)"
    assert metadata["default_period_reason"] == f"today is {today} in {stack.settings.reporting_timezone}; {expected.reason}"
    assert f"the dashboards open on: {metadata['default_period']}" in stack.first_run.stdout
    superset, _assets = _connect(resources_for(stack.settings, secrets_from_environment=False)["superset"])
    for slug in SLUGS:
        assert _default_masks(superset, slug)["filterState"]["value"] == expected.time_range, slug


@pytest.mark.parametrize(
    ("today", "time_range", "label"),
    [
        # 20 days into the shop's first month: month to date, not an empty December 2024.
        (date(2025, 1, 20), "2025-01-01 : 2025-01-21", "Month to date (January 2025)"),
        # The data starts on 1 January, so February is covered: the last complete month.
        (date(2025, 3, 5), "2025-02-01 : 2025-03-01", "Last complete month (February 2025)"),
    ],
)
def test_the_dashboards_open_on_the_period_chosen_for_today(stack, publish, today, time_range, label):
    period, dashboards = publish(today)
    assert (period.time_range, period.label) == (time_range, label)
    assert len(dashboards) == len(SLUGS)
    superset, _assets = _connect(resources_for(stack.settings, secrets_from_environment=False)["superset"])
    masks = {slug: _default_masks(superset, slug) for slug in SLUGS}
    for slug, mask in masks.items():
        assert mask["filterState"]["value"] == mask["extraFormData"]["time_range"] == time_range, slug

    card = _net_revenue_card(stack, masks["sales-overview"]["extraFormData"])
    expected = _mart_net_revenue(stack, *time_range.split(" : "))
    assert expected is not None and expected > 0
    assert card == expected
