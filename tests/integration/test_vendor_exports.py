"""Real shop exports load by mapping alone: each shipped mapping's fixture, in its vendor's documented
layout, loads into the real PostgreSQL to the totals tests/fixtures/exports/expected.py computes from
the file on its own (csv + Decimal, nothing of the loader)."""

from __future__ import annotations

import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import load_landing
from ingestion.sources import load_mappings

pytestmark = pytest.mark.integration

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
sys.path.insert(0, str(EXPORTS))
import expected  # noqa: E402

# The shop's own settings a shipped mapping cannot know, as a user writes them in ECOM_SOURCES_DIR.
MY_WOOCOMMERCE = """
name: my_woocommerce
extends: woocommerce
timezone: Europe/Berlin
"""
MY_PURCHASE_LOG = """
name: my_purchase_log
extends: purchase_log
identify: [Kunde, Datum, Stück, Betrag]
files: ["purchases_eu*.csv"]
csv: {delimiter: ";", decimal_separator: ",", encoding: WIN1252}
timestamp_format: "%d.%m.%Y"
default_currency: EUR
columns:
  order_id: {template: "{Kunde}-{Datum}"}
  ordered_at: Datum
  customer_id: Kunde
  quantity: Stück
  unit_price: {line_total: Betrag}
"""


def loaded_totals(url: str) -> dict:
    with psycopg.connect(url) as conn:
        lines, sale_lines, orders, sold, returned, first, last = conn.execute(
            "select count(*), count(*) filter (where quantity > 0), count(distinct order_id),"
            " coalesce(sum(quantity) filter (where quantity > 0), 0), coalesce(-sum(quantity) filter (where quantity < 0), 0),"
            " min(ordered_at), max(ordered_at) from raw.order_lines"
        ).fetchone()
        net = dict(
            conn.execute("select currency, sum(quantity * unit_price) from raw.order_lines group by 1 order by 1").fetchall()
        )
        quarantined = conn.execute("select file_name, source_line, reason from quarantine.order_lines order by 1, 2").fetchall()
    return {
        "lines": lines,
        "sale_lines": sale_lines,
        "orders": orders,
        "units": (sold, returned),
        "net": net,
        "span": (first, last),
        "quarantined": quarantined,
    }


def expected_totals(exp: expected.Expected) -> dict:
    return {
        "lines": exp.line_count,
        "sale_lines": exp.sale_lines,
        "orders": exp.orders,
        "units": (exp.units_sold, exp.units_returned),
        # Every shipped mapping that divides a total rounds the unit price to the cent, as the contract stores it.
        "net": exp.net_amount_rounded,
        "span": (exp.first_ordered_at, exp.last_ordered_at),
        "quarantined": [(r.file, r.source_line, r.reason) for r in exp.rejected],
    }


@pytest.fixture
def own_mappings(tmp_path):
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "my_woocommerce.yaml").write_text(MY_WOOCOMMERCE)
    (folder / "my_purchase_log.yaml").write_text(MY_PURCHASE_LOG, encoding="utf-8")
    mappings = load_mappings([folder])
    assert not mappings.errors
    return mappings


@pytest.mark.parametrize(
    "fixture, expectation, source",
    [
        ("shopify/orders_export_1.csv", expected.shopify_orders_export_1, "shopify"),
        ("woocommerce/orders-2024-01.csv", expected.woocommerce_orders_2024_01, "my_woocommerce"),
        ("online_retail/Online Retail.csv", expected.online_retail_2010_2011, "online_retail"),
        ("online_retail_ii/online_retail_II.csv", expected.online_retail_ii, "online_retail_ii"),
        ("purchase_log/purchases.log", expected.purchases, "purchase_log"),
        ("purchase_log/purchases_crlf.log", expected.purchases_crlf, "purchase_log"),
        ("purchase_log/purchases_eu.csv", expected.purchases_eu, "my_purchase_log"),
    ],
)
def test_each_shipped_mapping_loads_its_vendor_fixture_to_the_independent_totals(
    scratch_warehouse, tmp_path, own_mappings, fixture, expectation, source
):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXPORTS / fixture, landing)
    started = time.monotonic()
    summary = load_landing(scratch_warehouse, landing, own_mappings)
    print(f"{fixture}: loaded in {time.monotonic() - started:.3f} s")
    (result,) = summary.files
    assert (result.status, result.source) == ("loaded", source), result
    assert loaded_totals(scratch_warehouse) == expected_totals(expectation())


def test_a_refunded_order_resent_by_shopify_keeps_none_of_its_earlier_lines(scratch_warehouse, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXPORTS / "shopify" / "orders_export_1.csv", landing)
    load_landing(scratch_warehouse, landing, load_mappings())
    shutil.copy(EXPORTS / "shopify" / "orders_export_2.csv", landing)
    summary = load_landing(scratch_warehouse, landing, load_mappings())
    assert summary.files[-1].orders_replaced >= 1
    assert loaded_totals(scratch_warehouse) == expected_totals(expected.shopify_after_both_exports())
    with psycopg.connect(scratch_warehouse) as conn:
        # #1005 was sold in export 1 and refunded in full by export 2: one sale and one return per line,
        # both from the later file, nothing left of the first.
        parts = conn.execute(
            "select f.file_name, sign(l.quantity), sum(l.quantity), sum(l.quantity * l.unit_price) from raw.order_lines l"
            " join ops.ingested_files f using (file_id) where order_id = '#1005' group by 1, 2 order by 2"
        ).fetchall()
    assert [(name, sign) for name, sign, _, _ in parts] == [("orders_export_2.csv", -1), ("orders_export_2.csv", 1)]
    assert parts[0][2] == -parts[1][2] and parts[0][3] == -parts[1][3] != Decimal(0)
