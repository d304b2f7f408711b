"""The Dagster code location: every asset, check, job, schedule and sensor, composed in one place,
with the resources they use (orchestration/resources.py) built from the stack's settings."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.alerts import run_failure_alert
from orchestration.dbt_assets import dbt_models
from orchestration.dbt_cli import DBT_EXECUTABLE, candidate_schemas, dbt_project
from orchestration.forecast_assets import forecasts
from orchestration.ingestion_assets import raw_exchange_rates, raw_order_lines
from orchestration.publication import publication_asset
from orchestration.quality_checks import quality_checks
from orchestration.quality_report import quality_report_for
from orchestration.resources import resources_for
from orchestration.sensors import landing_sensor_for
from orchestration.settings import Settings, load_settings
from orchestration.superset_assets import dataset_assets, superset_dashboards

MART_KEYS = sorted((key for key in dbt_models.keys if key.path[0] == "marts"), key=lambda key: key.path)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Load new files, build and test every dbt model, gate the data, publish to Superset, forecast.",
    # One process for all steps: a subprocess per step costs seconds each on a small machine.
    executor_def=dg.in_process_executor,
)


def definitions_for(settings: Settings) -> dg.Definitions:
    """The code location for a stack's settings (a test builds it for its own throw-away stack)."""
    daily_full_run = dg.ScheduleDefinition(
        name="daily_full_run",
        job=full_pipeline,
        cron_schedule=settings.daily_cron,
        execution_timezone=settings.reporting_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole pipeline once a day (ECOM_DAILY_CRON), even when no file arrived: refreshes freshness.",
    )
    return dg.Definitions(
        assets=[
            raw_order_lines,
            raw_exchange_rates,
            dbt_models,
            quality_report_for(MART_KEYS),
            publication_asset(MART_KEYS, candidate_schemas()),
            forecasts,
            *dataset_assets,
            superset_dashboards,
        ],
        asset_checks=quality_checks,
        jobs=[full_pipeline],
        schedules=[daily_full_run],
        sensors=[
            landing_sensor_for(full_pipeline),
            run_failure_alert,
        ],
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            **resources_for(settings),
        },
    )


defs = definitions_for(load_settings())
