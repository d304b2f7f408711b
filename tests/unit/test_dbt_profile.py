"""dbt's profile reads the stack's own variables: a `dbt build` reaches the warehouse the stack uses."""

import re
from pathlib import Path

import pytest
import yaml
from dbt.config.renderer import ProfileRenderer
from dbt_common.context import set_invocation_context

from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT, load_settings

PROFILE = DBT_PROJECT_DIR / "profiles.yml"


def rendered_output(environment: dict[str, str]) -> dict:
    """The profile's output as dbt renders it in `environment`."""
    set_invocation_context(environment)
    profile = ProfileRenderer({}).render_data(yaml.safe_load(PROFILE.read_text()))["ecommerce_analytics"]
    return profile["outputs"][profile["target"]]


def variables_read(path: Path) -> set[str]:
    return set(re.findall(r"env_var\('([A-Z_]+)'", path.read_text()))


@pytest.fixture
def clean_environment(monkeypatch):
    for name in {*load_settings().stack_env(), "WAREHOUSE_URL", "ECOM_PG_PORT", "DBT_TARGET"}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_changed_pg_port_reaches_dbt_run_by_hand(clean_environment):
    output = rendered_output({"ECOM_PG_PORT": "25999"})
    assert output["port"] == 25999
    assert (output["host"], output["user"], output["dbname"]) == ("127.0.0.1", "ecom", "warehouse")


def test_the_defaults_are_the_embedded_warehouse_s(clean_environment):
    warehouse = load_settings().warehouse
    output = rendered_output({})
    assert (output["host"], output["port"], output["user"], output["password"], output["dbname"]) == (
        warehouse.host,
        warehouse.port,
        warehouse.user,
        warehouse.password,
        warehouse.database,
    )


@pytest.mark.parametrize(
    "environment",
    [{"ECOM_PG_PORT": "25001", "ECOM_PG_PASSWORD": "s3cret"}, {"WAREHOUSE_URL": "postgresql://me:pw@pg.internal:5433/shop"}],
)
def test_the_stack_s_environment_points_dbt_at_the_stack_s_warehouse(clean_environment, environment):
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    settings = load_settings()
    output = rendered_output(settings.stack_env())
    warehouse = settings.warehouse
    assert (output["host"], output["port"], output["user"], output["password"], output["dbname"]) == (
        warehouse.host,
        warehouse.port,
        warehouse.user,
        warehouse.password,
        warehouse.database,
    )


def test_every_variable_the_profile_reads_is_exported_by_the_stack_and_documented():
    documented = (REPO_ROOT / ".env.example").read_text()
    exported = set(load_settings().stack_env())
    for name in variables_read(PROFILE) - {"DBT_TARGET"}:
        assert name in exported, f"profiles.yml reads {name}, which the stack does not export"
    for name in variables_read(PROFILE):
        assert re.search(rf"^#? ?{name}=", documented, re.MULTILINE), f"{name} is not in .env.example"
