"""The mapping language without a database: strict checking, choosing a mapping by header, and each
transformation (templates, amounts, line totals, fill-forward, returns, timestamps, whitespace)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.loader import choose_mapping
from ingestion.readers import FileRejected, read_records
from ingestion.sources import (
    SOURCES_DIR,
    MappingError,
    display_name,
    format_from_name,
    load_mapping,
    load_mappings,
)
from ingestion.transform import EARLIEST_ORDER_DATE, INSTANT, ISO_COUNTRIES, BatchMapper, ValueRules

LATEST = pa.scalar(datetime(2100, 1, 1), INSTANT)


def mapping_file(directory: Path, text: str, name: str = "shop.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def mapped(
    directory: Path, mapping_text: str, content: bytes | str, file_name: str = "export.csv", earliest: date = EARLIEST_ORDER_DATE
) -> tuple[list[dict], list[tuple]]:
    """(good lines as dicts, quarantined (line, reason)) of `content` read with the mapping."""
    mapping = load_mapping(mapping_file(directory, mapping_text))
    path = directory / file_name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    stream = read_records(path, mapping)
    mapper = BatchMapper(mapping, stream.header, LATEST, ValueRules(earliest_order_date=earliest))
    lines, quarantined = [], []
    for batch in stream.batches:
        checked = mapper.check(batch)
        lines += checked.lines.to_pylist()
        quarantined += list(
            zip(checked.quarantined["source_line"].to_pylist(), checked.quarantined["reason"].to_pylist(), strict=True)
        )
    return lines, quarantined


BASE = """
name: shop
identify: [Order, Date, SKU, Qty, Price]
columns: {order_id: Order, ordered_at: Date, product_id: SKU, quantity: Qty, unit_price: Price}
constants: {currency: EUR}
"""


@pytest.mark.parametrize(
    "text, key",
    [
        (BASE + "colums: {}\n", "`colums`: unknown key"),
        (BASE + "csv: {delimter: ';'}\n", "`csv.delimter`: unknown key"),
        (BASE.replace("quantity: Qty", "quantity: Qty, quantiy: Qty"), "unknown: ['quantiy']"),
        (BASE + "returns: {when: {column: Status, equal: refunded}}\n", "`returns.0.when.equal`: unknown key"),
        (BASE + "timezone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'"),
        (BASE + "inexact_unit_price: truncate\n", "`inexact_unit_price`"),
        (BASE.replace("identify: [Order, Date, SKU, Qty, Price]\n", ""), "`identify`: Field required"),
        ("name: [broken\n", "not valid YAML"),
    ],
)
def test_a_typo_or_unknown_key_is_an_error_naming_the_file_and_the_key(tmp_path, text, key):
    with pytest.raises(MappingError) as error:
        load_mapping(mapping_file(tmp_path, text))
    assert str(error.value).startswith("shop.yaml: ")
    assert key in str(error.value)


def test_a_broken_mapping_stops_only_its_own_source(tmp_path):
    mapping_file(tmp_path, BASE + "colums: {}\n", "broken.yaml")
    mapping_file(tmp_path, BASE.replace("name: shop", "name: other_shop"), "other.yaml")
    mappings = load_mappings([tmp_path])
    assert mappings.by_name("other_shop") is not None and mappings.by_name("demo") is not None
    assert mappings.by_name("shop") is None
    assert len(mappings.errors) == 1 and mappings.errors[0].startswith("broken.yaml: `colums`")


def test_a_mapping_extends_another_and_gives_only_what_differs(tmp_path):
    mapping_file(
        tmp_path, "name: my_uk_shop\nextends: online_retail_ii\nidentify: [Rechnung, Preis]\ncolumns: {order_id: Rechnung}\n"
    )
    mapping = load_mappings([tmp_path]).by_name("my_uk_shop")
    assert mapping.spec.columns["order_id"] == "Rechnung"
    assert mapping.spec.columns["unit_price"] == "Price" and mapping.constants["currency"] == "GBP"
    assert mapping.spec.values["country"]["EIRE"] == "IE"
    assert mapping.spec.files == []  # file-name globs identify the base, not what extends it


def test_the_header_chooses_the_mapping_and_file_names_only_break_ties(tmp_path):
    mappings = load_mappings()
    shopify = tmp_path / "orders_export_1.csv"
    shopify.write_text(
        "Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Lineitem discount\n"
    )
    assert choose_mapping(shopify, mappings).mapping.name == "shopify"
    # Contract-shaped content under Shopify's default name is still read as the contract.
    contract = tmp_path / "sub" / "orders_export_1.csv"
    contract.parent.mkdir()
    contract.write_text("order_id,ordered_at,product_id,quantity,unit_price\n")
    assert choose_mapping(contract, mappings).mapping.name == "demo"
    unknown = tmp_path / "export.csv"
    unknown.write_text("Invoice,StockCode,Quantity,InvoiceDate,Price\n")
    choice = choose_mapping(unknown, mappings)
    assert choice.mapping is None
    assert "Invoice, StockCode, Quantity, InvoiceDate, Price" in choice.reason
    assert "the closest, online_retail_ii, misses: Description, Customer ID, Country" in choice.reason


def test_two_mappings_that_read_the_same_header_are_reported_not_guessed(tmp_path):
    mapping_file(tmp_path, BASE, "a.yaml")
    mapping_file(tmp_path, BASE.replace("name: shop", "name: shop_copy"), "b.yaml")
    path = tmp_path / "export.csv"
    path.write_text("Order,Date,SKU,Qty,Price\n")
    choice = choose_mapping(path, load_mappings([tmp_path]))
    assert choice.mapping is None and "ambiguous: mappings shop, shop_copy" in choice.reason


def test_demo_does_not_claim_shopifys_default_file_name():
    demo = load_mappings().by_name("demo")
    assert not demo.matches_name(Path("orders_export_1.csv"))
    assert demo.matches_name(Path("orders_2025-01-01.csv.gz"))
    assert all(load_mapping(path) for path in SOURCES_DIR.glob("*.yaml") if "extends" not in path.read_text())


def test_file_names_in_any_case_and_with_any_bytes():
    import os

    assert display_name(Path(os.fsdecode(b"orders \xe9t\xe9 'q\" \n\x1b.csv"))) == "orders \ufffdt\ufffd 'q\" \ufffd\ufffd.csv"
    assert display_name(Path("Ümlaut 2025.csv")) == "Ümlaut 2025.csv"
    assert [format_from_name(Path(name)) for name in ("A.CSV", "a.JSONL.GZ", "a.Parquet", "a.TSV.Gz")] == [
        "csv",
        "jsonl",
        "parquet",
        "csv",
    ]
    assert load_mappings().by_name("shopify").matches_name(Path("ORDERS_EXPORT_1.CSV"))


def test_typed_parquet_columns_are_read_as_text_a_csv_would_hold(tmp_path):
    import io

    import pyarrow.parquet as pq

    instants = pa.array([datetime(2024, 1, 2, 10, 0, 0, 123456)] * 3, pa.timestamp("us")).cast(
        pa.timestamp("ns", "Europe/Berlin")
    )
    table = pa.table(
        {
            "Order": ["O1", "O2", "O3"],
            "Date": instants,
            "SKU": ["P1", "P2", "P3"],
            "Qty": pa.array([2.0, 1.0, 1.5]),
            "Price": pa.array([9.9, 1e-07, -2.5e-07]),
            "Unused": pa.array([{"a": 1}, None, {"a": 2}]),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    lines, quarantined = mapped(tmp_path, BASE, buffer.getvalue(), file_name="export.parquet")
    assert [(line["quantity"], line["unit_price"], str(line["ordered_at"])) for line in lines] == [
        ("2", "9.9", "2024-01-02 10:00:00.123456"),
        ("1", "0.0000001", "2024-01-02 10:00:00.123456"),
    ]
    assert quarantined == [(3, "quantity is not an integer")]


def test_templates_and_the_record_number_derive_ids(tmp_path):
    text = BASE.replace("order_id: Order", 'order_id: {template: "{Customer}-{Date}"}').replace(
        "product_id: SKU", 'product_id: {template: "line-{@line}"}'
    )
    lines, quarantined = mapped(
        tmp_path,
        text.replace("identify: [Order, Date, SKU, Qty, Price]", "identify: [Customer, Date]"),
        "Customer,Date,Qty,Price\nC1,2024-01-02,1,2.00\n,2024-01-02,1,2.00\n",
    )
    assert [(line["order_id"], line["product_id"]) for line in lines] == [("C1-2024-01-02", "line-2")]
    assert quarantined == [(3, "missing order_id")]  # an empty field leaves the whole id empty


@pytest.mark.parametrize(
    "written, separator, stored",
    [
        ("$1,234.50", ".", "1234.50"),
        (" $2.39 ", ".", "2.39"),
        ("1.234,50 €", ",", "1234.50"),
        ("1 234,50", ",", "1234.50"),
        ("EUR 12", ".", "12"),
        ("£0.99", ".", "0.99"),
        ("1'234.50", ".", "1234.50"),
    ],
)
def test_amounts_lose_currency_signs_blanks_and_thousands_separators(tmp_path, written, separator, stored):
    text = BASE + f'csv: {{delimiter: ";", decimal_separator: "{separator}"}}\n'
    lines, quarantined = mapped(tmp_path, text, f"Order;Date;SKU;Qty;Price\nO1;2024-01-02;P1;1;{written}\n")
    assert quarantined == []
    assert lines[0]["unit_price"] == stored


@pytest.mark.parametrize("written", ["1,5", "12,9x", "1,23,456.00", "--2"])
def test_an_irregular_amount_is_not_guessed_at(tmp_path, written):
    _, quarantined = mapped(tmp_path, BASE, f'Order,Date,SKU,Qty,Price\nO1,2024-01-02,P1,1,"{written}"\n')
    assert quarantined == [(2, "unit_price is not a number")]


def test_a_line_total_gives_an_exact_unit_price_or_follows_the_mapping_s_rule(tmp_path):
    text = BASE.replace("unit_price: Price", "unit_price: {line_total: Total}").replace("Price]", "Total]")
    content = "Order,Date,SKU,Qty,Total\nO1,2024-01-02,P1,4,$10.00\nO2,2024-01-02,P1,3,$10.00\nO3,2024-01-02,P1,-1,-$2.39\n"
    lines, quarantined = mapped(tmp_path, text, content)
    assert [(line["order_id"], line["quantity"], line["unit_price"]) for line in lines] == [
        ("O1", "4", "2.50"),
        ("O3", "-1", "2.39"),
    ]
    assert quarantined == [(3, "unit_price is not exact to the cent (line total / quantity)")]
    lines, quarantined = mapped(tmp_path, text + "inexact_unit_price: round\n", content)
    assert quarantined == [] and lines[1]["unit_price"] == "3.33"


def test_a_discount_comes_off_the_line_before_the_unit_price(tmp_path):
    text = BASE.replace("unit_price: Price", "unit_price: {column: Price, discount: Discount}") + "inexact_unit_price: round\n"
    lines, _ = mapped(
        tmp_path, text, "Order,Date,SKU,Qty,Price,Discount\nO1,2024-01-02,P1,6,24.90,14.94\nO2,2024-01-02,P1,1,5.00,\n"
    )
    assert [line["unit_price"] for line in lines] == ["22.41", "5.00"]
    assert Decimal(lines[0]["unit_price"]) * 6 == Decimal("134.46")  # 6 x 24.90 - 14.94, exact here


def test_value_maps_translate_any_column_and_null_empties_it(tmp_path):
    text = BASE + "values:\n  status: {paid: completed, refunded: returned}\n  country: {Germany: DE, Nowhere: null}\n"
    text = text.replace("unit_price: Price", "unit_price: Price, status: State, country: Land")
    lines, _ = mapped(
        tmp_path,
        text,
        "Order,Date,SKU,Qty,Price,State,Land\nO1,2024-01-02,P1,1,2,paid,Germany\nO2,2024-01-02,P1,1,2,shipped,Nowhere\n",
    )
    assert [(line["status"], line["country"]) for line in lines] == [("completed", "DE"), ("shipped", None)]


def test_a_country_is_an_iso_code_after_the_value_map_or_empty(tmp_path):
    text = (
        BASE.replace("unit_price: Price", "unit_price: Price, country: Land")
        + "values:\n  country: {Germany: DE, Nowhere: null}\n"
    )
    countries = ["de", "Germany", "Nowhere", "", "XK", "ZZ", "Deutschland", "UK", "D"]
    rows = [f"O{i},2024-01-02,P1,1,2,{country}" for i, country in enumerate(countries)]
    lines, quarantined = mapped(tmp_path, text, "Order,Date,SKU,Qty,Price,Land\n" + "\n".join(rows) + "\n")
    assert [line["country"] for line in lines] == ["DE", "DE", None, None, "XK", "ZZ"]
    assert quarantined == [
        (8, "country is not an ISO 3166 code"),
        (9, "country is not an ISO 3166 code"),
        (10, "country is not an ISO 3166 code"),
    ]


def test_every_country_the_loader_accepts_passes_the_country_gate():
    # expectations/suites.py checks country_performance.country_code for a length of 2.
    assert all(len(code) == 2 and code.isupper() for code in ISO_COUNTRIES.to_pylist())
    assert {"DE", "GB", "US", "ZZ"} <= set(ISO_COUNTRIES.to_pylist())


def test_an_order_before_the_earliest_date_is_quarantined(tmp_path):
    content = "Order,Date,SKU,Qty,Price\nO1,1999-12-31T23:59:59Z,P1,1,2\nO2,2000-01-01,P1,1,2\nO3,1970-01-01,P1,1,2\n"
    lines, quarantined = mapped(tmp_path, BASE, content)
    assert [line["order_id"] for line in lines] == ["O2"]
    assert quarantined == [(2, "ordered_at is before 2000-01-01"), (4, "ordered_at is before 2000-01-01")]
    lines, quarantined = mapped(tmp_path, BASE, content, earliest=date(1960, 6, 1))
    assert len(lines) == 3 and quarantined == []


def test_a_return_dated_outside_the_plausible_range_is_quarantined(tmp_path):
    text = BASE + "returns: {when: {column: Status, equals: refunded}, keep_sale: true, dated: Refunded at}\n"
    content = "Order,Date,SKU,Qty,Price,Status,Refunded at\nO1,2024-01-02,P1,1,2,refunded,1970-01-01\nO2,2024-01-02,P1,1,2,refunded,2999-01-01\n"
    _, quarantined = mapped(tmp_path, text, content)
    assert quarantined == [(2, "return date is before 2000-01-01"), (3, "return date is in the future")]


def test_order_level_columns_are_filled_forward_within_an_order_and_across_batches(tmp_path, monkeypatch):
    import ingestion.readers

    monkeypatch.setattr(ingestion.readers, "BATCH_ROWS", 2)
    monkeypatch.setattr(ingestion.readers, "CSV_BLOCK_BYTES", 64)  # several batches from this small file
    text = (
        BASE.replace("ordered_at: Date", "ordered_at: Date, customer_id: Email")
        + "fill_forward: {order: Order, columns: [Date, Email]}\n"
    )
    rows = ["O1,2024-01-02,a@x,P1,1,2", "O1,,,P2,1,2", "O1,,,P3,1,2", "O2,2024-01-03,,P1,1,2", "O2,,,P2,1,2", "O3,,,P1,1,2"]
    lines, quarantined = mapped(tmp_path, text, "Order,Date,Email,SKU,Qty,Price\n" + "\n".join(rows) + "\n")
    assert [(line["order_id"], line["customer_id"], str(line["ordered_at"].date())) for line in lines] == [
        ("O1", "a@x", "2024-01-02"),
        ("O1", "a@x", "2024-01-02"),
        ("O1", "a@x", "2024-01-02"),
        ("O2", None, "2024-01-03"),  # O2 has no e-mail: not O1's
        ("O2", None, "2024-01-03"),
    ]
    assert quarantined == [(7, "missing ordered_at")]  # O3's first line has no date: not O2's


def test_returns_a_line_that_is_a_return_and_a_sold_line_that_was_returned(tmp_path):
    as_return = (
        BASE.replace("unit_price: Price", "unit_price: Price, status: Type") + "returns: {when: {column: Type, equals: refund}}\n"
    )
    lines, _ = mapped(
        tmp_path, as_return, "Order,Date,SKU,Qty,Price,Type\nO1,2024-01-02,P1,2,-3.00,refund\nO2,2024-01-02,P1,2,3.00,sale\n"
    )
    assert [(line["quantity"], line["unit_price"], line["status"]) for line in lines] == [
        ("-2", "3.00", "returned"),
        ("2", "3.00", "sale"),
    ]

    kept = BASE + "returns: {when: {column: Status, equals: refunded}, keep_sale: true}\n"
    lines, _ = mapped(
        tmp_path, kept, "Order,Date,SKU,Qty,Price,Status\nO1,2024-01-02,P1,2,3.00,refunded\nO2,2024-01-02,P1,1,3.00,paid\n"
    )
    assert sorted((line["order_id"], line["quantity"], line["source_line"]) for line in lines) == [
        ("O1", "-2", 2),
        ("O1", "2", 2),
        ("O2", "1", 3),
    ]

    partial = BASE + "returns: {units: Refunded, keep_sale: true}\n"
    lines, quarantined = mapped(
        tmp_path,
        partial,
        "Order,Date,SKU,Qty,Price,Refunded\nO1,2024-01-02,P1,4,3.00,-1\nO2,2024-01-02,P1,1,3.00,0\nO3,2024-01-02,P1,1,3.00,x\n",
    )
    assert sorted((line["order_id"], line["quantity"]) for line in lines) == [("O1", "-1"), ("O1", "4"), ("O2", "1")]
    assert quarantined == [(4, "returned units are not an integer")]


@pytest.mark.parametrize(
    "written, utc",
    [
        ("2024-01-15 10:00:00 +0100", "2024-01-15 09:00:00"),
        ("2024-01-15 10:00:00 -05:00", "2024-01-15 15:00:00"),
        ("2024-01-15 10:00:00 UTC", "2024-01-15 10:00:00"),
        ("2024-01-15", "2024-01-15 00:00:00"),
        ("2024-01-15T10:00:00Z", "2024-01-15 10:00:00"),
    ],
)
def test_offsets_after_a_space_and_date_only_values_are_timestamps(tmp_path, written, utc):
    lines, quarantined = mapped(tmp_path, BASE, f"Order,Date,SKU,Qty,Price\nO1,{written},P1,1,2.00\n")
    assert quarantined == [] and str(lines[0]["ordered_at"]) == utc


def test_several_timestamp_formats_are_tried_in_order(tmp_path):
    text = BASE + 'timestamp_format: ["%m/%d/%Y %H:%M", iso]\n'
    lines, _ = mapped(tmp_path, text, "Order,Date,SKU,Qty,Price\nO1,12/1/2010 8:26,P1,1,2\nO2,2009-12-01 07:45:00,P1,1,2\n")
    assert [str(line["ordered_at"]) for line in lines] == ["2010-12-01 08:26:00", "2009-12-01 07:45:00"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_whitespace_aligned_files_with_any_line_ending_and_a_byte_order_mark(tmp_path, newline):
    text = BASE.replace("identify: [Order, Date, SKU, Qty, Price]", "identify: [Order, Date]") + "csv: {delimiter: whitespace}\n"
    rows = [
        "Order   Date          SKU    Qty    Price",
        "  O1    2024-01-02    P1       1     2.39   ",
        "O2\t2024-01-03  P2  12  1,234.50",
    ]
    lines, quarantined = mapped(tmp_path, text, b"\xef\xbb\xbf" + newline.join(rows).encode() + newline.encode())
    assert quarantined == []
    assert [(line["order_id"], line["product_id"], line["quantity"], line["unit_price"]) for line in lines] == [
        ("O1", "P1", "1", "2.39"),
        ("O2", "P2", "12", "1234.50"),
    ]


def test_the_whitespace_reader_holds_a_run_of_blanks_across_chunks(tmp_path, monkeypatch):
    import ingestion.readers

    monkeypatch.setattr(ingestion.readers, "WHITESPACE_CHUNK_BYTES", 7)
    text = BASE.replace("identify: [Order, Date, SKU, Qty, Price]", "identify: [Order]") + "csv: {delimiter: whitespace}\n"
    rows = ["Order        Date SKU Qty Price"] + [f"O{i}      2024-01-02     P{i}    {i}       1.00" for i in range(1, 30)]
    lines, quarantined = mapped(tmp_path, text, "\n".join(rows) + "\n")
    assert quarantined == [] and [line["product_id"] for line in lines] == [f"P{i}" for i in range(1, 30)]


def test_a_record_larger_than_a_csv_block_is_read_in_larger_blocks_from_where_it_was(tmp_path, monkeypatch):
    import ingestion.readers

    monkeypatch.setattr(ingestion.readers, "CSV_BLOCK_BYTES", 256)
    monkeypatch.setattr(ingestion.readers, "BATCH_ROWS", 8)
    text = BASE.replace("unit_price: Price", "unit_price: Price, product_name: Name")
    rows = [f"O{i},2024-01-02,P1,1,2,Mug" for i in range(40)]
    rows[10] = 'B1,2024-01-02,P1,1,2,"' + "a long name, " * 100 + '"'  # 1.3 kB: read again in 1 kiB blocks
    rows[5] = rows[30] = "M,2024-01-02,too,few"
    lines, quarantined = mapped(tmp_path, text, "Order,Date,SKU,Qty,Price,Name\n" + "\n".join(rows) + "\n")
    assert [line["order_id"] for line in lines] == [row.split(",")[0] for row in rows if not row.startswith("M")]
    assert [line["source_line"] for line in lines if line["order_id"] in ("O4", "O6", "B1", "O31")] == [6, 8, 12, 33]
    assert [line for line, _ in quarantined] == [7, 32]

    monkeypatch.setattr(ingestion.readers, "CSV_BLOCK_BYTES", 128)
    monkeypatch.setattr(ingestion.readers, "LARGEST_CSV_BLOCK_BYTES", 512)
    with pytest.raises(
        FileRejected,
        match=r"after the first 9 records, a record of more than 0\.00048828[0-9]* MiB, or a quote that never closes",
    ):
        mapped(tmp_path, text, "Order,Date,SKU,Qty,Price,Name\n" + "\n".join(rows) + "\n")


def test_a_quote_that_never_closes_rejects_the_file(tmp_path):
    content = 'Order,Date,SKU,Qty,Price\nO1,2024-01-02,P1,1,2\nO2,2024-01-02,"P1,1,2\n' + "O3,2024-01-02,P1,1,2\n" * 100_000
    with pytest.raises(FileRejected, match="unreadable CSV"):
        mapped(tmp_path, BASE, content)


def test_a_file_repeating_any_column_name_is_rejected_blank_ones_may_repeat(tmp_path):
    with pytest.raises(FileRejected, match="named more than once in the header: Qty"):
        mapped(tmp_path, BASE, "Order,Date,SKU,Qty,Qty,Price\nO1,2024-01-02,P1,1,1,2\n")
    with pytest.raises(FileRejected, match=r"named more than once in the header: Note, Region$"):
        mapped(tmp_path, BASE, "Order,Date,SKU,Qty,Price,Note,Region, Note,Region\nO1,2024-01-02,P1,1,2,a,b,c,d\n")
    lines, _ = mapped(tmp_path, BASE, "Order,Date,SKU,Qty,Price,,, \nO1,2024-01-02,P1,1,2,,,\n")
    assert [line["order_id"] for line in lines] == ["O1"]
