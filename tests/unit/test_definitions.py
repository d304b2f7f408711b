"""The code location loads and wires every stage (needs the dbt manifest, which `dbt parse` writes)."""

import dagster as dg
import pytest

from orchestration.dbt_cli import prepare_manifest


@pytest.fixture(scope="module")
def defs():
    prepare_manifest()
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def test_every_stage_is_an_asset(graph):
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "raw/order_lines",
        "staging/stg_shop__order_lines",
        "intermediate/int_order_lines__priced",
        "marts/kpi_daily",
        "quality/report",
        "superset/dataset/kpi_daily",
        "superset/dashboards",
    } <= keys


def test_asset_groups_follow_the_stages(graph):
    groups = {group for assets_def in graph.assets_defs for group in assets_def.group_names_by_key.values()}
    assert {"ingestion", "staging", "marts", "quality", "bi"} <= groups
    for assets_def in graph.assets_defs:
        for key in assets_def.keys:
            assert assets_def.specs_by_key[key].owners, f"{key.to_user_string()} has no owner"


def test_great_expectations_gates_are_blocking_checks(graph):
    checks = {spec.key: spec for assets_def in graph.assets_defs for spec in assets_def.check_specs}
    for asset, name in (
        (["raw", "order_lines"], "great_expectations_order_lines"),
        (["marts", "kpi_daily"], "great_expectations_kpi_daily"),
    ):
        assert checks[dg.AssetCheckKey(dg.AssetKey(asset), name)].blocking


def test_dbt_tests_become_asset_checks(graph):
    check_names = {key.name for key in graph.asset_check_keys}
    assert "relationships_kpi_daily_order_date__date_day__ref_dim_date_" in check_names
    # A rule the Great Expectations gate evaluates is not evaluated by dbt as well.
    assert "unique_kpi_daily_order_date" not in check_names


def test_marts_have_a_freshness_policy(graph):
    marts = [key for key in graph.get_all_asset_keys() if key.path[0] == "marts"]
    assert marts
    for key in marts:
        assert graph.get(key).freshness_policy is not None, key.to_user_string()


def test_publication_depends_on_the_mart(graph):
    dataset = graph.get(dg.AssetKey(["superset", "dataset", "kpi_daily"]))
    assert dg.AssetKey(["marts", "kpi_daily"]) in dataset.parent_keys
    dashboards = graph.get(dg.AssetKey(["superset", "dashboards"]))
    assert dg.AssetKey(["superset", "dataset", "kpi_daily"]) in dashboards.parent_keys


def test_schedules_and_sensors(defs):
    assert {schedule.name for schedule in defs.schedules} == {"daily_full_run"}
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    assert {"landing_folder_sensor", "run_failure_alert"} <= set(sensors)
    for sensor in sensors.values():
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_full_pipeline_job_runs_in_one_process(defs):
    job = defs.resolve_job_def("full_pipeline")
    assert job.executor_def.name == "in_process"


def test_every_resource_an_asset_check_or_sensor_needs_is_given(defs):
    provided = set(defs.resources)
    assert {"warehouse", "superset", "landing", "great_expectations", "alerts", "dbt"} <= provided
    for assets_def in defs.resolve_asset_graph().assets_defs:
        missing = assets_def.required_resource_keys - provided - {"io_manager"}
        assert not missing, f"{assets_def.node_def.name} needs {missing}"
    for sensor in defs.sensors:
        assert sensor.required_resource_keys <= provided, sensor.name


def test_secrets_reach_the_resources_as_environment_variables_not_values(defs):
    """The Dagster UI shows a resource's configuration: a password must show as its variable's name."""
    for name, field in (("warehouse", "password"), ("superset", "admin_password"), ("superset", "bi_reader_password")):
        assert isinstance(getattr(defs.resources[name], field), dg.EnvVar), f"{name}.{field}"


def test_the_launchpad_offers_full_refresh_and_a_model_selection_for_dbt(defs):
    from orchestration.dbt_assets import dbt_models

    fields = dbt_models.op.config_schema.config_type.fields
    assert {"full_refresh", "select", "exclude"} <= set(fields)
    assert all(not fields[name].is_required for name in ("full_refresh", "select", "exclude"))


def test_the_raw_to_marts_reconciliation_is_a_blocking_check_on_the_marts(graph):
    checks = {spec.key: spec for assets_def in graph.assets_defs for spec in assets_def.check_specs}
    for asset, name in (
        ("kpi_daily", "assert_revenue_reconciles_from_raw_to_marts"),
        ("kpi_daily", "assert_marts_agree_on_totals"),
        ("customer_segments", "assert_customer_marts_agree"),
    ):
        spec = checks[dg.AssetCheckKey(dg.AssetKey(["marts", asset]), name)]
        assert spec.blocking, name
    # Publication waits for the marts, so a failed blocking check on one publishes nothing.
    publication = graph.get(dg.AssetKey(["publication", "marts"]))
    assert {dg.AssetKey(["marts", "kpi_daily"]), dg.AssetKey(["marts", "customer_segments"])} <= publication.parent_keys
