"""What a vendor mapping costs (`make bench`): the same 1,000,000 order lines loaded once in the
contract's own shape (mapping `demo`) and once as a Shopify orders export (mapping `shopify`:
order-level columns on each order's first line only, filled forward; offsets after a space;
discounted prices divided back into unit prices; refunded orders loaded as sale plus return), with a
template on top (a mapping that `extends: shopify`). Prints both rates and their ratio, medians of
alternating rounds, each load into a fresh database after a checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from statistics import median

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingestion import one_file
from harness import Stopwatch, fresh_database, print_table, settle, throwaway_postgres

from ingestion.loader import ensure_schema, load_file, mapping_for
from ingestion.sources import CONTRACT_COLUMNS, load_mappings

SHOPIFY_WITH_TEMPLATE = """
name: shopify_bench
extends: shopify
columns:
  customer_id: {template: "shopify:{Email}"}
"""
ROUNDS = 3


def as_shopify_export(contract_csv: Path, target: Path) -> Path:
    """The contract-shaped file rewritten in Shopify's export layout (a subset of its columns)."""
    table = pa_csv.read_csv(
        contract_csv,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(
                CONTRACT_COLUMNS,
                pa.string(),
            )
        ),
    )
    order = table["order_id"].combine_chunks()
    previous = pa.concat_arrays([pa.array([None], pa.string()), order.slice(0, len(order) - 1)])
    first_line = pc.fill_null(pc.not_equal(order, previous), True)
    blank = pa.scalar("", pa.string())

    def first_only(values: pa.Array) -> pa.Array:
        return pc.if_else(first_line, values, blank)

    quantity = pc.cast(table["quantity"], pa.int64())
    returned = pc.less(quantity, 0)
    # "2025-01-01T10:00:00+00:00" -> "2025-01-01 10:00:00 +0000", Shopify's way.
    created_at = pc.replace_substring_regex(table["ordered_at"], r"^(.{10})T(.{8}).*$", r"\1 \2 +0000")
    export = pa.table(
        {
            "Name": pc.binary_join_element_wise("#", order, ""),
            "Email": first_only(pc.binary_join_element_wise(pc.fill_null(table["customer_id"], "guest"), "@example.com", "")),
            "Financial Status": first_only(pc.if_else(returned, "refunded", "paid")),
            "Currency": first_only(table["currency"]),
            "Created at": created_at,
            "Lineitem quantity": pc.cast(pc.abs(quantity), pa.string()),
            "Lineitem name": table["product_name"],
            "Lineitem price": table["unit_price"],
            "Lineitem sku": table["product_id"],
            "Lineitem discount": pa.repeat(pa.scalar("0.00"), table.num_rows),
            "Cancelled at": pa.repeat(blank, table.num_rows),
            "Shipping Country": first_only(pc.fill_null(table["country"], "")),
            "Source": first_only(pc.fill_null(table["channel"], "web")),
        }
    )
    pa_csv.write_csv(export, target)
    return target


def load_seconds(url: str, path: Path, mappings) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        mapping = mapping_for(path, mappings)
        with Stopwatch() as watch:
            result = load_file(conn, path, mapping)
    assert result.status == "loaded" and not result.rows_quarantined, result
    return watch.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecom-bench-mappings-") as scratch, throwaway_postgres() as settings:
        data = Path(scratch)
        print(f"generating a {args.lines:,}-line CSV and its Shopify-shaped twin ...", flush=True)
        contract, lines = one_file(data / "contract", args.lines, seed=3)
        shopify = as_shopify_export(contract, data / "orders_export_1.csv")
        (data / "sources").mkdir()
        (data / "sources" / "shopify_bench.yaml").write_text(SHOPIFY_WITH_TEMPLATE)
        mappings = load_mappings([data / "sources"])
        assert mapping_for(shopify, mappings).name == "shopify_bench"
        runs: dict[str, list[float]] = {"contract (demo)": [], "Shopify export (shopify + template)": []}
        for number in range(ROUNDS):
            for name, path in zip(runs, (contract, shopify), strict=True):
                url = fresh_database(settings, f"mapping_{number}_{len(runs[name])}_{path.suffix[1:]}_{name[:4].lower()}")
                settle(settings)
                runs[name].append(load_seconds(url, path, mappings))
        seconds = {name: median(measured) for name, measured in runs.items()}
        contract_seconds = seconds["contract (demo)"]
        print_table(
            f"Loading {lines:,} order lines in two shapes (medians of {ROUNDS} alternating rounds)",
            ["shape", "seconds", "rows/s", "rate vs contract shape"],
            [[name, round(s, 2), round(lines / s), round(contract_seconds / s, 2)] for name, s in seconds.items()],
        )
        print(
            f"\nShopify-shaped / contract-shaped rate = {contract_seconds / seconds['Shopify export (shopify + template)']:.2f}"
        )


if __name__ == "__main__":
    main()
