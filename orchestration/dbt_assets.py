"""The dbt project as Dagster assets: keys and groups by layer, dbt tests as asset checks."""

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from pydantic import Field

from orchestration.dbt_cli import dbt_build_args, dbt_project
from orchestration.metadata import table_metadata
from orchestration.publication import finish_candidate_build, start_candidate_build
from orchestration.settings import load_settings

MARTS_MAX_AGE_HOURS = float(os.environ.get("ECOM_MARTS_MAX_AGE_HOURS", "26"))

class LayeredDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `<schema>/<name>` (the physical table); groups are the dbt layers."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # The ingestion stage's asset: one key for the table, whoever references it.
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"].get("schema") or "staging", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["config"].get("schema") or "staging"

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key.path[0] != "marts":
            return spec.replace_attributes(owners=["team:analytics-engineering"])
        # Business users read the marts: a mart older than a day and a bit means the daily run failed.
        return spec.replace_attributes(
            owners=["team:analytics-engineering"],
            freshness_policy=dg.FreshnessPolicy.time_window(
                fail_window=timedelta(hours=MARTS_MAX_AGE_HOURS), warn_window=timedelta(hours=MARTS_MAX_AGE_HOURS * 0.75)
            ),
        )


translator = LayeredDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def candidate_schemas() -> dict[str, str]:
    """Each published schema and the candidate schema dbt builds it into (orchestration/publication.py)."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["config"]["schema"]: node["schema"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["config"].get("schema")
    }


class DbtBuildConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the selected models from scratch (dbt --full-refresh). The pipeline does so by itself"
        " when the candidate schemas may hold a failed or partial build.",
    )


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, project=dbt_project)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    warehouse = load_settings().warehouse.url()
    candidates = candidate_schemas()
    must_rebuild = start_candidate_build(warehouse, context.run.run_id)
    if must_rebuild and not config.full_refresh:
        context.log.info("The candidate schemas may hold a failed or partial build: rebuilding them in full.")
    for event in dbt.cli(dbt_build_args(full_refresh=config.full_refresh or must_rebuild), context=context).stream():
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            # Marts are tables people read: show how many rows and what they look like (in the candidate).
            if key.path[0] == "marts":
                event = event.with_metadata({**event.metadata, **table_metadata(warehouse, candidates["marts"], key.path[-1])})
        yield event
    finish_candidate_build(warehouse, context.run.run_id, complete=set(context.selected_asset_keys) == set(context.assets_def.keys))
