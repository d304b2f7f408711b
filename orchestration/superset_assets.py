"""The publication stage: one asset per Superset dataset (after its mart), one for the dashboards."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import dagster as dg
import psycopg

from ecom_superset.bundle import Asset, AssetSet, load_assets, with_default_period
from ecom_superset.default_period import DefaultPeriod, default_period, reporting_today
from ecom_superset.publisher import PublishedDashboard, Superset, publish_dashboards, publish_dataset
from orchestration.dbt_cli import dbt_project
from orchestration.metadata import markdown_table
from orchestration.publication import PUBLISHED_MARTS
from orchestration.resources import SupersetResource, WarehouseResource

DASHBOARDS = dg.AssetKey(["superset", "dashboards"])


def _template_values(superset: SupersetResource) -> dict[str, str]:
    reader = superset.bi_reader
    return {
        "BI_READER_USER": reader.user,
        "WAREHOUSE_HOST": reader.host,
        "WAREHOUSE_PORT": str(reader.port),
        "WAREHOUSE_DATABASE": reader.database,
    }


def _connect(superset: SupersetResource) -> tuple[Superset, AssetSet]:
    client = Superset(superset.url, superset.admin_user, superset.admin_password)
    # The datasets' columns and metrics are the dbt project's, read from its manifest.
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return client, load_assets(values=_template_values(superset), manifest=manifest)


def _dataset_asset(dataset: Asset) -> dg.AssetsDefinition:
    schema, table = dataset.spec["schema"], dataset.spec["table_name"]

    @dg.asset(
        key=dg.AssetKey(["superset", "dataset", table]),
        # After the swap that publishes the checked marts, not after the candidate's build.
        deps=[dg.AssetKey([schema, table]), PUBLISHED_MARTS],
        group_name="bi",
        owners=["team:analytics"],
        kinds={"superset"},
        description=f"Superset dataset on {schema}.{table} (superset/assets/datasets/{dataset.name}.yaml).",
    )
    def publish(superset: SupersetResource) -> dg.MaterializeResult:
        client, assets = _connect(superset)
        dataset_id = publish_dataset(client, assets, assets.dataset_for_table(schema, table), superset.bi_reader_password)
        return dg.MaterializeResult(
            metadata={"superset_dataset_id": dataset_id, "url": dg.MetadataValue.url(f"{superset.url}/tablemodelview/list/")}
        )

    return publish


dataset_assets = [_dataset_asset(dataset) for dataset in load_assets().datasets]


def shop_default_period(warehouse: WarehouseResource, today: date) -> DefaultPeriod:
    """The dashboards' default period for `today` (reporting time zone) and the order days of the
    published marts up to today."""
    with psycopg.connect(warehouse.url()) as conn:
        first_order_day, latest_order_day = conn.execute(
            "select min(order_date), max(order_date) from marts.kpi_daily where orders > 0 and order_date <= %s", (today,)
        ).fetchone()
    return default_period(today, first_order_day, latest_order_day)


def publish_dashboards_for(
    superset: SupersetResource, warehouse: WarehouseResource, today: date
) -> tuple[DefaultPeriod, list[PublishedDashboard]]:
    """Publish every chart and dashboard, each dashboard's date filter opening on the default period for `today`."""
    period = shop_default_period(warehouse, today)
    client, assets = _connect(superset)
    return period, publish_dashboards(client, with_default_period(assets, period.time_range), superset.bi_reader_password)


@dg.asset(
    key=DASHBOARDS,
    deps=[asset.key for asset in dataset_assets],
    group_name="bi",
    owners=["team:analytics"],
    kinds={"superset"},
    description="Every chart and dashboard in superset/assets, published and their cache warmed. The dashboards open on"
    " the last complete month in the reporting time zone, or month to date for a young shop (ecom_superset/default_period.py),"
    " chosen again at each run.",
)
def superset_dashboards(superset: SupersetResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    today = reporting_today(datetime.now(UTC), superset.reporting_timezone)
    period, dashboards = publish_dashboards_for(superset, warehouse, today)
    return dg.MaterializeResult(
        metadata={
            "default_period": f"{period.label}: {period.time_range} (end excluded)",
            "default_period_reason": f"today is {today} in {superset.reporting_timezone}; {period.reason}",
            "dashboards": markdown_table(
                ["dashboard", "url", "charts", "chart rows"],
                [[d.title, d.url, len(d.charts), sum(c.rows for c in d.charts)] for d in dashboards],
            ),
            "charts": markdown_table(
                ["dashboard", "chart", "id", "rows"],
                [[d.title, c.name, c.chart_id, c.rows] for d in dashboards for c in d.charts],
            ),
            "dashboard_urls": dg.MetadataValue.json({d.title: d.url for d in dashboards}),
        }
    )
