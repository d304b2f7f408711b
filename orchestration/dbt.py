"""The dbt project as Dagster assets: keys and groups by layer, dbt tests as asset checks."""

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.settings import DBT_PROJECT_DIR

RAW_ORDER_LINES = dg.AssetKey(["raw", "order_lines"])

# dbt is installed in this virtualenv, which need not be on PATH (a daemon started by `ecom up`).
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest() -> None:
    """`dbt parse` so the manifest matches the models; run before the code location loads."""
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
    )


class LayeredDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `<schema>/<name>` (the physical table); groups are the dbt layers."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # The ingestion stage's asset: one key for the table, whoever references it.
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"].get("schema") or "staging", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["config"].get("schema") or "staging"


translator = LayeredDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_build_args(*, full_refresh: bool = False, exclude: Sequence[str] = ()) -> list[str]:
    """Arguments of the `dbt build` that materializes the selected models, seeds and tests."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if exclude:
        args += ["--exclude", *exclude]
    return args


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, project=dbt_project)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(dbt_build_args(), context=context).stream()
