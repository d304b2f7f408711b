"""The dbt project as Dagster assets: keys and groups by layer, dbt tests as asset checks."""

import os
import shutil
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

import psycopg
from psycopg import sql
from pydantic import Field

from expectations.suites import dbt_tests_evaluated_by_great_expectations, read_manifest
from orchestration.dbt_cli import candidate_schemas, dbt_build_args, dbt_project, rebuild_in_full
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


class DbtBuildConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the selected models from scratch (dbt --full-refresh). The pipeline does so by itself"
        " when the candidate schemas may hold a failed or partial build.",
    )


# The dbt tests the Great Expectations gates evaluate (expectations/suites.py) are not run by dbt as well.
@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=translator,
    project=dbt_project,
    exclude=" ".join(dbt_tests_evaluated_by_great_expectations(read_manifest(dbt_project.manifest_path))),
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    settings = load_settings()
    warehouse = settings.warehouse.url()
    candidates = candidate_schemas()
    full_refresh = config.full_refresh
    if start_candidate_build(warehouse, context.run.run_id) and not full_refresh:
        context.log.info("The candidate schemas may hold a failed or partial build: rebuilding them in full.")
        full_refresh = True
    new_lines, built_lines = lines_since_last_build(warehouse, candidates["marts"])
    if not full_refresh and rebuild_in_full(new_lines, built_lines, settings.dbt_max_incremental_share):
        context.log.info(f"{new_lines:,} new lines on {built_lines:,} built: rebuilding in full is faster than incrementally.")
        full_refresh = True
    _prune_target_folders(keep=TARGET_FOLDERS_KEPT)
    invocation = dbt.cli(dbt_build_args(full_refresh=full_refresh), context=context)
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            # Marts are tables people read: show how many rows and what they look like (in the candidate).
            if key.path[0] == "marts":
                event = event.with_metadata({**event.metadata, **table_metadata(warehouse, candidates["marts"], key.path[-1])})
        yield event
    finish_candidate_build(warehouse, context.run.run_id, complete=set(context.selected_asset_keys) == set(context.assets_def.keys))
    # A successful build's folder (manifest copy, run results, logs) has served; a failed one's stays to read.
    shutil.rmtree(invocation.target_path, ignore_errors=True)


TARGET_FOLDERS_KEPT = 5


def _prune_target_folders(keep: int) -> None:
    """dagster-dbt gives each invocation a folder in dbt_project/target: keep the newest few (failed builds')."""
    folders = sorted((path for path in (dbt_project.project_dir / "target").glob("dbt_models-*") if path.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in folders[:-keep]:
        shutil.rmtree(stale, ignore_errors=True)


def lines_since_last_build(conninfo: str, marts_schema: str) -> tuple[int, int]:
    """(lines loaded since the candidate's facts were built, lines they hold), from the raw partitions
    above fct_order_lines' high-water mark and the table's size estimate; (0, 0) before the first build."""
    facts = f"{marts_schema}.fct_order_lines"
    with psycopg.connect(conninfo) as conn:
        if conn.execute("select to_regclass(%s)", (facts,)).fetchone()[0] is None:
            return 0, 0
        built = conn.execute("select greatest(reltuples, 0)::bigint from pg_class where oid = %s::regclass", (facts,)).fetchone()[0]
        high_water_mark = conn.execute(sql.SQL("select coalesce(max(file_id), 0) from {}").format(sql.Identifier(marts_schema, "fct_order_lines"))).fetchone()[0]
        new = conn.execute("select count(*) from raw.order_lines where file_id > %s", (high_water_mark,)).fetchone()[0]
    return new, built
