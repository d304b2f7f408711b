"""`ecom run` on a fresh stack: every service serves, the pipeline ran through every stage."""

import subprocess
from pathlib import Path

import psycopg
import pytest
import requests

from ecom_superset.bundle import load_assets
from ecom_superset.publisher import Superset

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_first_run_succeeds_and_reports(stack):
    assert stack.first_run.returncode == 0, stack.first_run.stdout[-3000:] + stack.first_run.stderr[-3000:]
    out = stack.first_run.stdout
    assert "Pipeline success" in out
    assert "rows loaded" in out and "checks passed" in out
    assert "/superset/dashboard/sales-overview/" in out


def test_status_json_lists_urls_and_running_services(stack):
    status = stack.status()
    assert status["dagster_url"] == stack.settings.dagster_url
    assert status["superset_url"] == stack.settings.superset_url
    assert "***" in status["warehouse_url"] and stack.settings.warehouse.password not in status["warehouse_url"]
    assert {name: s["state"] for name, s in status["services"].items()} == {
        "postgres": "running",
        "superset": "running",
        "dagster-webserver": "running",
        "dagster-daemon": "running",
    }


def test_warehouse_has_every_schema(stack):
    with stack.warehouse() as conn:
        schemas = {row[0] for row in conn.execute("select schema_name from information_schema.schemata")}
    assert {"raw", "staging", "intermediate", "marts", "quarantine", "ops"} <= schemas


def test_the_ops_tables_come_from_one_migration_step_applied_once(stack, scratch_warehouse):
    from orchestration.warehouse_migrations import migrate, migration_files

    with stack.warehouse() as conn:
        applied = [row[0] for row in conn.execute("select version from ops.schema_migrations order by version")]
        tables = {row[0] for row in conn.execute("select table_name from information_schema.tables where table_schema = 'ops'")}
    assert applied == [path.name for path in migration_files()]
    assert {"ingested_files", "quality_results", "alerts", "publication", "schema_migrations"} <= tables
    assert migrate(stack.settings.warehouse.url()) == [], "a migration applied twice"
    # A new warehouse gets every table from the same step.
    assert migrate(scratch_warehouse) == applied
    with psycopg.connect(scratch_warehouse) as conn:
        created = {row[0] for row in conn.execute("select table_name from information_schema.tables where table_schema = 'ops'")}
    assert tables == created


def test_dagster_ui_lists_assets_and_the_gate(stack):
    query = """
    { assetNodes { assetKey { path } }
      assetNodeOrError(assetKey: {path: ["marts", "kpi_daily"]}) {
        ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } } }
    """
    response = requests.post(f"{stack.settings.dagster_url}/graphql", json={"query": query}, timeout=30)
    payload = response.json()
    assert not payload.get("errors"), payload
    data = payload["data"]
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert {"raw/order_lines", "marts/kpi_daily", "superset/dataset/kpi_daily", "superset/dashboards"} <= keys
    checks = {check["name"]: check["blocking"] for check in data["assetNodeOrError"]["assetChecksOrError"]["checks"]}
    assert checks["great_expectations_kpi_daily"] is True
    # The raw-to-marts reconciliation (a dbt test) is a blocking check on the mart, not an observation.
    assert checks["assert_revenue_reconciles_from_raw_to_marts"] is True


def test_marts_match_the_loaded_rows(stack):
    with stack.warehouse() as conn:
        raw_amount_orders = conn.execute(
            "select count(distinct order_id) filter (where quantity > 0) from raw.order_lines"
        ).fetchone()[0]
        kpi_orders, kpi_days = conn.execute("select sum(orders), count(*) from marts.kpi_daily").fetchone()
        first, last = conn.execute("select min(order_date), max(order_date) from marts.kpi_daily").fetchone()
    assert raw_amount_orders > 0
    # An order placed once counts on one day: per-day order counts add up to the distinct orders.
    assert kpi_orders >= raw_amount_orders * 0.99
    assert kpi_days == (last - first).days + 1


def test_superset_serves_the_dashboard_and_every_chart_returns_rows(stack):
    assert requests.get(f"{stack.settings.superset_url}/health", timeout=10).text == "OK"
    superset = Superset(stack.settings.superset_url, stack.settings.superset_admin_user, stack.settings.superset_admin_password)
    assets = load_assets()
    for dashboard in assets.dashboards:
        superset.id_by_uuid("dashboard", dashboard.uuid)
        for chart in assets.charts_of(dashboard):
            assert superset.chart_rows(superset.id_by_uuid("chart", chart.uuid)) > 0, chart.spec["slice_name"]


def test_superset_reads_only_marts_and_cannot_write(stack):
    import psycopg

    with psycopg.connect(stack.settings.bi_reader.url(), autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.kpi_daily").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.order_lines")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from marts.kpi_daily")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.intruder (x int)")


def test_second_run_is_idempotent(stack):
    superset = Superset(stack.settings.superset_url, stack.settings.superset_admin_user, stack.settings.superset_admin_password)
    counts_before = {kind: superset.count(kind) for kind in ("dashboard", "chart", "dataset", "database")}
    with stack.warehouse() as conn:
        raw_before = conn.execute("select count(*), sum(quantity * unit_price) from raw.order_lines").fetchone()
        kpi_before = conn.execute("select sum(net_revenue), sum(orders) from marts.kpi_daily").fetchone()
    second = stack.ecom("run", "--no-demo")
    assert second.returncode == 0, second.stdout[-3000:]
    assert "files loaded 0" in second.stdout
    with stack.warehouse() as conn:
        assert conn.execute("select count(*), sum(quantity * unit_price) from raw.order_lines").fetchone() == raw_before
        assert conn.execute("select sum(net_revenue), sum(orders) from marts.kpi_daily").fetchone() == kpi_before
    assert {kind: superset.count(kind) for kind in counts_before} == counts_before


def test_superset_started_from_the_repo_root_imports_apache_superset():
    venv_python = REPO_ROOT / ".venv-superset" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import superset, sys; print(superset.__file__)"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert ".venv-superset" in where and where.endswith("superset/__init__.py")
