"""The code location loads and wires every stage (needs the dbt manifest, which `dbt parse` writes)."""

import dagster as dg
import pytest

from orchestration.dbt_cli import prepare_manifest


@pytest.fixture(scope="module")
def defs():
    prepare_manifest()
    from orchestration.definitions import defs

    return defs


def test_every_stage_is_an_asset(defs):
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw/order_lines",
        "staging/stg_shop__order_lines",
        "intermediate/int_order_lines__priced",
        "marts/kpi_daily",
        "superset/dataset/kpi_daily",
        "superset/dashboards",
    } <= keys


def test_great_expectations_gate_is_a_blocking_check_on_the_mart(defs):
    checks = {
        spec.key: spec
        for assets_def in defs.resolve_asset_graph().assets_defs
        for spec in assets_def.check_specs
    }
    gate = checks[dg.AssetCheckKey(dg.AssetKey(["marts", "kpi_daily"]), "great_expectations_kpi_daily")]
    assert gate.blocking


def test_dbt_tests_become_asset_checks(defs):
    check_names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_kpi_daily_order_date" in check_names


def test_publication_depends_on_the_mart(defs):
    graph = defs.resolve_asset_graph()
    dataset = graph.get(dg.AssetKey(["superset", "dataset", "kpi_daily"]))
    assert dg.AssetKey(["marts", "kpi_daily"]) in dataset.parent_keys
    dashboards = graph.get(dg.AssetKey(["superset", "dashboards"]))
    assert dg.AssetKey(["superset", "dataset", "kpi_daily"]) in dashboards.parent_keys


def test_full_pipeline_job_selects_everything(defs):
    job = defs.resolve_job_def("full_pipeline")
    assert job.executor_def.name == "in_process"
