"""The Dagster code location: every asset, check and job of the pipeline, composed in one place."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.dbt_assets import dbt_models
from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_project
from orchestration.ingestion_assets import raw_order_lines
from orchestration.quality_checks import quality_checks
from orchestration.sensors import landing_sensor_for
from orchestration.superset_assets import dataset_assets, superset_dashboards

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Load new files, build and test every dbt model, gate the marts, publish to Superset.",
    # One process for all steps: a subprocess per step costs seconds each on a small machine.
    executor_def=dg.in_process_executor,
)

defs = dg.Definitions(
    assets=[raw_order_lines, dbt_models, *dataset_assets, superset_dashboards],
    asset_checks=quality_checks,
    jobs=[full_pipeline],
    sensors=[landing_sensor_for(full_pipeline)],
    resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)},
)
