"""`ecom generate --warehouse`: a new day continues after the orders already loaded, even when the
landing folder no longer holds their files."""

from datetime import date

import psycopg
import pytest
from test_ingestion import tolerant

from ingestion.demo_data import History, generate_orders
from ingestion.demo_history import continue_orders, warehouse_history
from ingestion.loader import load_landing
from ingestion.sources import load_mappings

pytestmark = pytest.mark.integration


def test_a_new_day_continues_after_the_warehouse(scratch_warehouse, tmp_path):
    assert warehouse_history(scratch_warehouse) == History()  # no raw.order_lines yet
    loaded = generate_orders(tmp_path / "loaded", orders=800, days=10, seed=21, start=date(2025, 2, 1), defect_rate=0.01)
    # No quarantine limit: a day with 1% defects may pass 5%, and every good order counts here.
    load_landing(scratch_warehouse, tmp_path / "loaded", tolerant(load_mappings()))

    history = warehouse_history(scratch_warehouse)

    assert history.last_day == date(2025, 2, 10)
    assert history.last_order == 800
    assert 0 < history.last_customer <= loaded.history.last_customer
    # an emptied landing folder: only the warehouse knows the history
    report = continue_orders(tmp_path / "emptied", orders=100, days=1, seed=21, warehouse_url=scratch_warehouse)
    assert report.continued_from == history and report.first_day == date(2025, 2, 11)
    added = load_landing(scratch_warehouse, tmp_path / "emptied", load_mappings())
    assert [file.orders_replaced for file in added.files] == [0]
    with psycopg.connect(scratch_warehouse) as conn:
        assert conn.execute("select count(distinct order_id) from raw.order_lines").fetchone()[0] == 900
