"""What a run says about its files: the raw asset's ingestion check and `ecom preview`, no database."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from ingestion.loader import FileResult, LoadSummary
from orchestration.cli import main
from orchestration.ingestion_assets import ingestion_problems_check

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
sys.path.insert(0, str(EXPORTS))
import expected  # noqa: E402

CLEAN = LoadSummary(
    [FileResult("orders_2025-01-01.csv", "loaded", 10), FileResult("orders_2024-12-31.csv", "skipped", error="already loaded")]
)
TROUBLED = LoadSummary(
    [
        FileResult("orders_2025-01-01.csv", "loaded", 95, 5, top_reasons=[("quantity is zero", 5, 7)]),
        FileResult("orders_export_1.csv", "rejected", error="57 of 60 rows (95.0%) would be quarantined"),
        FileResult("bestellungen.csv", "unmatched", error="no source mapping matches its header [Bestellung]"),
    ]
)


def test_a_clean_run_passes_the_ingestion_check():
    assert ingestion_problems_check(CLEAN, "warn").passed


def test_rejected_unmatched_and_quarantined_files_fail_it_as_a_warning_or_an_error():
    warned = ingestion_problems_check(TROUBLED, "warn")
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert ingestion_problems_check(TROUBLED, "fail").severity == dg.AssetCheckSeverity.ERROR
    problems = warned.metadata["problems"].value
    assert [f["file_name"] for f in problems["files"]] == ["orders_2025-01-01.csv", "orders_export_1.csv", "bestellungen.csv"]
    assert warned.metadata["rows_quarantined"].value == 5
    assert "quantity is zero" in warned.metadata["top_quarantine_reasons"].value


def test_a_refused_file_fails_it_a_file_still_being_written_does_not():
    waiting = FileResult("orders_2025-01-02.csv", "waiting", error="still being written (changed 0.4 s ago)")
    refused = FileResult("orders_2025-01-03.csv", "refused", error="a symbolic link (to /mnt/x.csv): not followed")
    assert ingestion_problems_check(LoadSummary([*CLEAN.files, waiting]), "warn").passed
    check = ingestion_problems_check(LoadSummary([*CLEAN.files, waiting, refused]), "warn")
    assert not check.passed and check.metadata["files_refused"].value == 1
    assert [f["file_name"] for f in check.metadata["problems"].value["files"]] == ["orders_2025-01-03.csv"]


def test_a_mapping_that_cannot_be_read_fails_it_too():
    summary = LoadSummary(CLEAN.files, mapping_errors=["shop.yaml: `colums`: unknown key"])
    assert not ingestion_problems_check(summary, "warn").passed


def test_preview_shows_the_mapping_the_columns_the_lines_and_the_totals(capsys):
    assert main(["preview", str(EXPORTS / "shopify" / "orders_export_1.csv")]) == 0
    shown = capsys.readouterr().out
    totals = expected.shopify_orders_export_1()
    assert "Mapping   shopify@" in shown and "Financial Status" in shown
    assert "unit_price    ('Lineitem price' x quantity - 'Lineitem discount') / quantity  ok" in shown
    assert f"{totals.line_count} order lines would load, 0 records would be quarantined" in shown
    assert f"orders {totals.orders}," in shown
    for currency, amount in totals.net_amount_rounded.items():
        assert f"net amount {currency} {amount:,.2f}" in shown
    assert "Verdict   would load" in shown


def test_preview_of_a_file_no_mapping_reads_says_what_it_found(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("Invoice,StockCode,Quantity,InvoiceDate,Price\n1,A,1,2024-01-01,2\n")
    assert main(["preview", str(path)]) == 1
    shown = capsys.readouterr().out
    assert "Mapping   none: no source mapping matches its header [Invoice, StockCode, Quantity, InvoiceDate, Price]" in shown
    assert "the closest, online_retail_ii, misses: Description, Customer ID, Country" in shown


def test_preview_of_a_mostly_bad_file_gives_reasons_with_raw_rows_and_the_verdict(tmp_path, capsys):
    path = tmp_path / "orders_2025-01-01.csv"
    path.write_text("order_id,ordered_at,product_id,quantity,unit_price\nO1,2025-01-01,P1,1,2.00\nO2,yesterday,P1,1,2.00\n")
    assert main(["preview", str(path)]) == 1
    shown = capsys.readouterr().out
    assert 'ordered_at is not a timestamp  1     3          {"order_id": "O2", "ordered_at": "yesterday"' in shown
    assert "REJECTED: 1 of 2 rows (50.0%) would be quarantined" in shown
