"""The dbt project as Dagster assets: keys and groups by layer, dbt tests as asset checks."""

import shutil
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
import psycopg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from psycopg import sql
from pydantic import Field

from expectations.suites import dbt_tests_evaluated_by_great_expectations, read_manifest
from orchestration.dbt_cli import (
    DBT_VARS,
    REPORTING_CURRENCY,
    DbtSelection,
    candidate_schemas,
    dbt_build_args,
    dbt_project,
    pricing_stamp,
    rebuild_in_full,
)
from orchestration.metadata import table_metadata
from orchestration.publication import finish_candidate_build, start_candidate_build
from orchestration.resources import DbtBuildPolicyResource, WarehouseResource
from orchestration.settings import load_settings


class LayeredDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `<schema>/<name>` (the physical table); groups are the dbt layers."""

    def __init__(self, marts_max_age_hours: float):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.marts_max_age_hours = marts_max_age_hours

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
        max_age = timedelta(hours=self.marts_max_age_hours)
        return spec.replace_attributes(
            owners=["team:analytics-engineering"],
            freshness_policy=dg.FreshnessPolicy.time_window(fail_window=max_age, warn_window=max_age * 0.75),
        )


# The freshness policy is part of the asset's definition, read when the code location loads.
translator = LayeredDbtTranslator(marts_max_age_hours=load_settings().marts_max_age_hours)


class DbtBuildConfig(dg.Config):
    """The launchpad's settings of a dbt build (dagster-open-platform's pattern)."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the selected models from scratch (dbt --full-refresh). The pipeline does so by itself"
        " when the candidate schemas may hold a failed or partial build.",
    )
    select: str = Field(
        default="",
        description="dbt node selection within the assets of this run, e.g. `marts.kpi_daily+` or `tag:daily`"
        " (dbt --select); empty: every selected asset.",
    )
    exclude: str = Field(default="", description="dbt nodes to leave out, e.g. `cohort_retention` (dbt --exclude).")


# The dbt tests the Great Expectations gates evaluate (expectations/suites.py) are not run by dbt as well.
@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=translator,
    project=dbt_project,
    exclude=" ".join(dbt_tests_evaluated_by_great_expectations(read_manifest(dbt_project.manifest_path))),
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    dbt_build_policy: DbtBuildPolicyResource,
    config: DbtBuildConfig,
):
    conninfo = warehouse.url()
    candidates = candidate_schemas()
    full_refresh = config.full_refresh
    if start_candidate_build(conninfo, context.run.run_id) and not full_refresh:
        context.log.info("The candidate schemas may hold a failed or partial build: rebuilding them in full.")
        full_refresh = True
    new_lines, built_lines = lines_since_last_build(conninfo, candidates["intermediate"])
    if not full_refresh and rebuild_in_full(new_lines, built_lines, dbt_build_policy.max_incremental_share):
        context.log.info(f"{new_lines:,} new lines on {built_lines:,} built: rebuilding in full is faster than incrementally.")
        full_refresh = True
    pricing = pricing_stamp(REPORTING_CURRENCY, exchange_rates_digest(conninfo))
    if not full_refresh and pricing_of_build(conninfo, candidates["intermediate"]) != pricing:
        context.log.info(
            "The built lines were priced in another reporting currency or at other exchange rates: rebuilding in full."
        )
        full_refresh = True
    _prune_target_folders(keep=TARGET_FOLDERS_KEPT)
    selection = DbtSelection(select=config.select, exclude=config.exclude)
    invocation = dbt.cli(dbt_build_args(full_refresh=full_refresh, selection=selection, dbt_vars=DBT_VARS), context=context)
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            # Marts are tables people read: show how many rows and what they look like (in the candidate).
            if key.path[0] == "marts":
                event = event.with_metadata({**event.metadata, **table_metadata(conninfo, candidates["marts"], key.path[-1])})
        yield event
    # A build narrowed by the launchpad's select/exclude is partial even when every asset was selected.
    complete = set(context.selected_asset_keys) == set(context.assets_def.keys) and not selection.narrows
    if complete:
        stamp_pricing(conninfo, candidates["intermediate"], pricing)
    finish_candidate_build(conninfo, context.run.run_id, complete=complete)
    # A successful build's folder (manifest copy, run results, logs) has served; a failed one's stays to read.
    shutil.rmtree(invocation.target_path, ignore_errors=True)


TARGET_FOLDERS_KEPT = 5


def _prune_target_folders(keep: int) -> None:
    """dagster-dbt gives each invocation a folder in dbt_project/target: keep the newest few (failed builds')."""
    folders = sorted(
        (path for path in (dbt_project.project_dir / "target").glob("dbt_models-*") if path.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in folders[:-keep]:
        shutil.rmtree(stale, ignore_errors=True)


def lines_since_last_build(conninfo: str, intermediate_schema: str) -> tuple[int, int]:
    """(lines loaded since the candidate's lines were built, lines they hold), from the raw partitions
    above int_order_lines' high-water mark and the table's size estimate; (0, 0) before the first build."""
    facts = f"{intermediate_schema}.int_order_lines"
    with psycopg.connect(conninfo) as conn:
        if conn.execute("select to_regclass(%s)", (facts,)).fetchone()[0] is None:
            return 0, 0
        built = conn.execute("select greatest(reltuples, 0)::bigint from pg_class where oid = %s::regclass", (facts,)).fetchone()[
            0
        ]
        high_water_mark = conn.execute(
            sql.SQL("select coalesce(max(file_id), 0) from {}").format(sql.Identifier(intermediate_schema, "int_order_lines"))
        ).fetchone()[0]
        new = conn.execute("select count(*) from raw.order_lines where file_id > %s", (high_water_mark,)).fetchone()[0]
    return new, built


def exchange_rates_digest(conninfo: str) -> str:
    """A digest of every exchange rate loaded (raw.exchange_rates): a corrected or added rate changes it."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "select md5(coalesce(string_agg(rate_date::text || currency_code || units_per_eur::text, ','"
            " order by rate_date, currency_code), '')) from raw.exchange_rates"
        ).fetchone()[0]


def pricing_of_build(conninfo: str, intermediate_schema: str) -> str | None:
    """The pricing stamp of the built lines (a comment on int_order_lines, which moves with the table when
    the candidate and published schemas swap); None before the first build."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "select obj_description(to_regclass(%s), 'pg_class')", (f"{intermediate_schema}.int_order_lines",)
        ).fetchone()[0]


def stamp_pricing(conninfo: str, intermediate_schema: str, pricing: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("comment on table {} is {}").format(
                sql.Identifier(intermediate_schema, "int_order_lines"), sql.Literal(pricing)
            )
        )
