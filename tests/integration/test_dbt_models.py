"""The dbt project against a fresh warehouse on the test stack's PostgreSQL.

A clean `dbt build` passes, reconciliation tests included; then, after one more day of files with
re-sent orders and returns, an incremental build passes and leaves every mart exactly as a
`--full-refresh` build of the same data does.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from ingestion.demo_data import DEFAULT_START, generate_orders
from ingestion.exchange_rates import load_exchange_rates
from ingestion.loader import load_landing
from ingestion.sources import CONTRACT_COLUMNS, load_mappings
from orchestration.settings import PostgresTarget

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).parent / "dbt")
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
ORDERS, DAYS, SEED = 3000, 60, 11


def dbt_build(warehouse_url: str, work_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`dbt build` against the given database, with its own target path so parallel runs don't clash,
    straight into the published schemas (`marts`, ...) rather than the pipeline's candidate schemas."""
    target = PostgresTarget.from_url(warehouse_url)
    env = {
        **os.environ,
        "ECOM_PG_HOST": target.host,
        "ECOM_PG_PORT": str(target.port),
        "ECOM_PG_USER": target.user,
        "ECOM_PG_PASSWORD": target.password,
        "ECOM_PG_DATABASE": target.database,
    }
    command = [
        DBT,
        "build",
        *args,
        "--vars",
        '{"schema_suffix": ""}',
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "dbt-target"),
        "--log-path",
        str(work_dir / "dbt-logs"),
    ]
    return subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def assert_passed(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def marts(warehouse_url: str) -> dict[str, list[tuple]]:
    """Every table in schema marts, all rows ordered by all columns."""
    with psycopg.connect(warehouse_url) as conn:
        tables = [
            row[0]
            for row in conn.execute("select table_name from information_schema.tables where table_schema = 'marts' order by 1")
        ]
        contents = {}
        for table in tables:
            width = conn.execute(
                "select count(*) from information_schema.columns where table_schema = 'marts' and table_name = %s",
                (table,),
            ).fetchone()[0]
            order_by = ", ".join(str(position) for position in range(1, width + 1))
            contents[table] = conn.execute(f'select * from marts."{table}" order by {order_by}').fetchall()
    return contents


def rows_affected(work_dir: Path, model: str) -> int:
    results = json.loads((work_dir / "dbt-target" / "run_results.json").read_text())["results"]
    (result,) = [r for r in results if r["unique_id"] == f"model.ecommerce_analytics.{model}"]
    return result["adapter_response"]["rows_affected"]


def write_corrections(path: Path, warehouse_url: str, day) -> None:
    """A file of the next day that re-sends two loaded orders the way a shop corrects them: one moved to
    another day and customer with a line fewer, one turned into a guest order; plus a return of a
    third order. The loader replaces the re-sent orders' sale lines, so lines and days disappear."""
    with psycopg.connect(warehouse_url) as conn:
        multi_line_orders = conn.execute(
            """
            select order_id from raw.order_lines
            where quantity > 0 and customer_id is not null
            group by order_id having count(*) >= 2 and count(distinct ordered_at) = 1
            order by order_id limit 3
            """
        ).fetchall()
        (moved,), (to_guest,), (returned,) = multi_line_orders
        columns = ", ".join(CONTRACT_COLUMNS)
        lines = {
            order_id: conn.execute(
                f"select {columns} from raw.order_lines where order_id = %s and quantity > 0 order by source_line",
                (order_id,),
            ).fetchall()
            for order_id in (moved, to_guest, returned)
        }
    rows = []
    for line in lines[moved][1:]:  # one line fewer, ten days earlier, another customer
        row = dict(zip(CONTRACT_COLUMNS, line))
        row.update(ordered_at=row["ordered_at"] - timedelta(days=10), customer_id="C-CORRECTED")
        rows.append(row)
    for line in lines[to_guest]:
        rows.append({**dict(zip(CONTRACT_COLUMNS, line)), "customer_id": ""})
    first = dict(zip(CONTRACT_COLUMNS, lines[returned][0]))
    first.update(ordered_at=f"{day.isoformat()}T12:00:00+00:00", quantity=-1, status="returned")
    rows.append(first)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CONTRACT_COLUMNS)
        writer.writeheader()
        for row in rows:
            if not isinstance(row["ordered_at"], str):
                row["ordered_at"] = row["ordered_at"].isoformat()
            writer.writerow(row)


@pytest.fixture
def landings(tmp_path):
    """DAYS days of a demo shop with defects and broken files, and its next day apart."""
    generated = tmp_path / "generated"
    generate_orders(generated, orders=ORDERS, days=DAYS + 1, seed=SEED, defect_rate=0.01)
    next_day = DEFAULT_START + timedelta(days=DAYS)
    first, second = tmp_path / "landing-first", tmp_path / "landing-next-day"
    first.mkdir()
    second.mkdir()
    for path in generated.iterdir():
        shutil.move(path, (second if path.name.startswith(f"orders_{next_day.isoformat()}") else first) / path.name)
    return first, second, next_day


def test_incremental_build_gives_the_marts_of_a_full_refresh(scratch_warehouse, landings, tmp_path, ecb):
    first, second, next_day = landings
    mappings = load_mappings()

    loaded = load_landing(scratch_warehouse, first, mappings)
    assert loaded.rows_loaded > 0 and loaded.rows_quarantined > 0
    assert load_exchange_rates(scratch_warehouse, tmp_path / "rates").rows > 0
    assert_passed(dbt_build(scratch_warehouse, tmp_path))
    lines_after_first_build = rows_affected(tmp_path, "int_order_lines")

    write_corrections(second / f"orders_{next_day.isoformat()}_corrections.csv", scratch_warehouse, next_day)
    more = load_landing(scratch_warehouse, second, mappings)
    assert more.rows_loaded > 0 and sum(f.orders_replaced for f in more.files) >= 2

    incremental = dbt_build(scratch_warehouse, tmp_path)
    assert_passed(incremental)
    # It did run incrementally: only the changed orders' lines were written.
    assert 0 < rows_affected(tmp_path, "int_order_lines") < lines_after_first_build / 10
    after_incremental = marts(scratch_warehouse)

    assert_passed(dbt_build(scratch_warehouse, tmp_path, "--full-refresh"))
    after_full_refresh = marts(scratch_warehouse)

    assert after_incremental.keys() == after_full_refresh.keys()
    assert {"kpi_daily", "fct_order_lines", "dim_customers", "customer_segments", "cohort_retention"} <= after_incremental.keys()
    for table, rows in after_full_refresh.items():
        assert rows, f"marts.{table} is empty"
        assert after_incremental[table] == rows, f"marts.{table} differs between the incremental and the full build"

    # The reconciliation tests passed inside dbt; check the total once more from outside dbt.
    with psycopg.connect(scratch_warehouse) as conn:
        kpi_net_revenue = conn.execute("select sum(net_revenue) from marts.kpi_daily").fetchone()[0]
        moved_customer = conn.execute("select orders from marts.dim_customers where customer_id = 'C-CORRECTED'").fetchone()
        kpi_columns = [
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'marts' and table_name = 'kpi_daily' order by ordinal_position"
            )
        ]
        days, first_day, last_day = conn.execute(
            "select count(*), min(order_date), max(order_date) from marts.kpi_daily"
        ).fetchone()
    # The raw lines' amount in EUR computed from the ECB rates of each line's day, independently of dbt.
    with psycopg.connect(scratch_warehouse) as conn:
        assert kpi_net_revenue == ecb.expected_amount(conn, "EUR", "UTC")
    assert moved_customer == (1,)
    # Dashboards and quality gates read these names: new kpi_daily columns may only come after them.
    assert kpi_columns[:10] == [
        "order_date",
        "orders",
        "guest_orders",
        "customers",
        "units_sold",
        "units_returned",
        "gross_revenue",
        "returns_amount",
        "net_revenue",
        "avg_order_value",
    ]
    assert days == (last_day - first_day).days + 1  # every day, with or without orders
