"""Optional contract columns are really optional: a shop that exports no countries, or no registered
customers (nor categories, statuses or channels), loads, builds every dbt model and passes every
blocking quality gate, so it gets its dashboards."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from test_dbt_models import assert_passed, dbt_build

from expectations.gx_project import validate
from expectations.suites import load_suites
from ingestion.exchange_rates import load_exchange_rates
from ingestion.loader import load_landing
from ingestion.sources import load_mappings
from orchestration.dbt_cli import dbt_project
from orchestration.settings import PostgresTarget

pytestmark = pytest.mark.integration

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def only_required_columns(landing: Path) -> None:
    """Guest checkouts only, in a shop that exports nothing but the contract's required columns."""
    rows = ["order_id,ordered_at,product_id,quantity,unit_price"]
    for day in range(1, 29):
        rows += [
            f"O{day}-1,2025-02-{day:02d}T10:00:00Z,P{day % 3},{day % 4 + 1},{day}.50",
            f"O{day}-2,2025-02-{day:02d}T15:00:00Z,P1,1,3.00",
        ]
    rows.append("O5-1,2025-02-07T09:00:00Z,P2,-1,5.50")  # a return
    (landing / "orders_2025-02-28.csv").write_text("\n".join(rows) + "\n")


def purchase_log_without_countries(landing: Path) -> None:
    shutil.copy(EXPORTS / "purchase_log" / "purchases.log", landing)


@pytest.mark.parametrize("shop", [only_required_columns, purchase_log_without_countries])
def test_a_shop_without_optional_columns_passes_every_gate(scratch_warehouse, tmp_path, shop):
    landing = tmp_path / "landing"
    landing.mkdir()
    shop(landing)
    summary = load_landing(scratch_warehouse, landing, load_mappings())
    assert summary.count("loaded") == 1 and not summary.problems, summary
    # The pipeline loads the ECB rates beside the lines (asset raw/exchange_rates): lines not in EUR need them.
    load_exchange_rates(scratch_warehouse, tmp_path / "rates")

    assert_passed(dbt_build(scratch_warehouse, tmp_path))
    sqlalchemy_url = PostgresTarget.from_url(scratch_warehouse).url("postgresql+psycopg2")
    # The build above parsed the project into its own target path; the suites read the project's manifest.
    # Not the forecast tables: the forecast step writes them after publication (tests/integration/test_forecast.py).
    suites = [suite for name, suite in load_suites(dbt_project.manifest_path).items() if not name.startswith("forecast.")]
    outcomes = validate(suites, sqlalchemy_url, tmp_path / "gx")
    failed = {o.suite: [e.expectation for e in o.expectations if not e.success] for o in outcomes if not o.success}
    assert failed == {}
    with psycopg.connect(scratch_warehouse) as conn:
        net_revenue = conn.execute("select sum(net_revenue) from marts.kpi_daily").fetchone()[0]
        raw_amount = conn.execute("select sum(quantity * unit_price) from raw.order_lines").fetchone()[0]
        countries = conn.execute("select array_agg(distinct country_code) from marts.fct_order_lines").fetchone()[0]
    assert countries == ["ZZ"]
    assert net_revenue is not None and raw_amount is not None
