"""The publication stage: one asset per Superset dataset (after its mart), one for the dashboards."""

from __future__ import annotations

import json

import dagster as dg

from ecom_superset.bundle import Asset, AssetSet, load_assets
from ecom_superset.publisher import Superset, publish_dashboards, publish_dataset
from orchestration.dbt_cli import dbt_project
from orchestration.metadata import markdown_table
from orchestration.publication import PUBLISHED_MARTS
from orchestration.resources import SupersetResource

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


@dg.asset(
    key=DASHBOARDS,
    deps=[asset.key for asset in dataset_assets],
    group_name="bi",
    owners=["team:analytics"],
    kinds={"superset"},
    description="Every chart and dashboard in superset/assets, published and their cache warmed.",
)
def superset_dashboards(superset: SupersetResource) -> dg.MaterializeResult:
    client, assets = _connect(superset)
    dashboards = publish_dashboards(client, assets, superset.bi_reader_password)
    return dg.MaterializeResult(
        metadata={
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
