"""The vendor-export fixtures parse as their vendors' documented layouts, and expected.py agrees with them.

tests/fixtures/exports/README.md names the layouts; expected.py computes what the order-line contract
should get from each file. The pinned numbers below are the ones end-to-end tests of the source mappings
check against: a fixture edit that changes them must change them here too, deliberately.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def _load_expected():
    spec = importlib.util.spec_from_file_location("export_fixtures_expected", EXPORTS / "expected.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


expected = _load_expected()
D = Decimal


def _rows(relative: str, encoding: str = "utf-8", delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    with (EXPORTS / relative).open(encoding=encoding, newline="") as file:
        header, *rows = csv.reader(file, delimiter=delimiter)
    return header, rows


def _dicts(relative: str, encoding: str = "utf-8") -> list[dict[str, str]]:
    with (EXPORTS / relative).open(encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


# --- the numbers end-to-end tests check ------------------------------------------------------------------

PINNED = {
    "shopify/orders_export_1.csv": {
        "lines": 28,
        "sale_lines": 25,
        "return_lines": 3,
        "orders": 12,
        "units_sold": 48,
        "units_returned": 5,
        "net": {"EUR": D("336.68"), "GBP": D("123.65"), "USD": D("102.00")},
        "rounded": {"EUR": D("336.67"), "GBP": D("123.65"), "USD": D("102.00")},
        "rejected": [],
        "refunds": {"GBP": D("8.50")},
    },
    "shopify/orders_export_2.csv": {
        "lines": 8,
        "sale_lines": 6,
        "return_lines": 2,
        "orders": 3,
        "units_sold": 10,
        "units_returned": 3,
        "net": {"EUR": D("35.77"), "GBP": D("0.00"), "USD": D("67.50")},
        "rounded": {"EUR": D("35.77"), "GBP": D("0.00"), "USD": D("67.50")},
        "rejected": [],
        "refunds": {},
    },
    "woocommerce/orders-2024-01.csv": {
        "lines": 20,
        "sale_lines": 17,
        "return_lines": 3,
        "orders": 10,
        "units_sold": 31,
        "units_returned": 5,
        "net": {"CHF": D("22.90"), "EUR": D("286.95"), "USD": D("44.40")},
        "rounded": {"CHF": D("22.90"), "EUR": D("286.94"), "USD": D("44.40")},
        "rejected": [],
        "refunds": {"USD": D("2.00")},
    },
    "online_retail/Online Retail.csv": {
        "lines": 33,
        "sale_lines": 26,
        "return_lines": 7,
        "orders": 28,
        "units_sold": 3783,
        "units_returned": 3629,
        "net": {"GBP": D("1755.59")},
        "rounded": {"GBP": D("1755.59")},
        "rejected": [(26, "unit_price is negative")],
        "refunds": {},
    },
    "online_retail_ii/online_retail_II.csv": {
        "lines": 30,
        "sale_lines": 25,
        "return_lines": 5,
        "orders": 25,
        "units_sold": 394,
        "units_returned": 116,
        "net": {"GBP": D("4944.59")},
        "rounded": {"GBP": D("4944.59")},
        "rejected": [(16, "unit_price is negative")],
        "refunds": {},
    },
    "purchase_log/purchases.log": {
        "lines": 15,
        "sale_lines": 14,
        "return_lines": 1,
        "orders": 14,
        "units_sold": 76,
        "units_returned": 1,
        "net": {"USD": D("4756.87")},
        "rounded": {"USD": D("4756.93")},
        "rejected": [],
        "refunds": {},
    },
    "purchase_log/purchases_crlf.log": {
        "lines": 15,
        "sale_lines": 14,
        "return_lines": 1,
        "orders": 14,
        "units_sold": 76,
        "units_returned": 1,
        "net": {"USD": D("4756.87")},
        "rounded": {"USD": D("4756.93")},
        "rejected": [],
        "refunds": {},
    },
    "purchase_log/purchases_eu.csv": {
        "lines": 6,
        "sale_lines": 5,
        "return_lines": 1,
        "orders": 6,
        "units_sold": 33,
        "units_returned": 1,
        "net": {"EUR": D("2255.99")},
        "rounded": {"EUR": D("2256.06")},
        "rejected": [],
        "refunds": {},
    },
}

RECORDS = {
    "shopify/orders_export_1.csv": 25,
    "shopify/orders_export_2.csv": 6,
    "woocommerce/orders-2024-01.csv": 17,
    "online_retail/Online Retail.csv": 34,
    "online_retail_ii/online_retail_II.csv": 31,
    "purchase_log/purchases.log": 15,
    "purchase_log/purchases_crlf.log": 15,
    "purchase_log/purchases_eu.csv": 6,
}


def _summary(e) -> dict:
    return {
        "lines": e.line_count,
        "sale_lines": e.sale_lines,
        "return_lines": e.return_lines,
        "orders": e.orders,
        "units_sold": e.units_sold,
        "units_returned": e.units_returned,
        "net": e.net_amount,
        "rounded": e.net_amount_rounded,
        "rejected": [(r.source_line, r.reason) for r in e.rejected],
        "refunds": e.unallocated_refund_amount,
    }


def test_every_fixture_has_an_expectation():
    files = {str(path.relative_to(EXPORTS)) for path in EXPORTS.rglob("*") if path.is_file() and path.suffix in (".csv", ".log")}
    assert files == set(expected.EXPECTED) == set(PINNED) == set(RECORDS)


@pytest.mark.parametrize("relative", sorted(PINNED))
def test_the_expected_totals_are_the_pinned_ones(relative):
    assert _summary(expected.EXPECTED[relative]()) == PINNED[relative]


@pytest.mark.parametrize("relative", sorted(RECORDS))
def test_each_record_becomes_lines_or_is_rejected(relative):
    e = expected.EXPECTED[relative]()
    assert e.records == RECORDS[relative]
    line_records = [line.source_line for line in e.lines]
    rejected_records = {r.source_line for r in e.rejected}
    assert rejected_records.isdisjoint(line_records)
    assert set(line_records) | rejected_records == set(range(2, e.records + 2))
    if relative.startswith(("shopify/", "woocommerce/")):
        # a record is one sale line, plus at most one return or cancellation line made from it
        sales = [line.source_line for line in e.lines if line.kind == expected.SALE]
        assert sorted(sales) == sorted(set(line_records))
    else:
        assert len(line_records) == len(set(line_records))  # a record is one line, a sale or a return


@pytest.mark.parametrize("relative", sorted(PINNED))
def test_the_totals_add_up(relative):
    e = expected.EXPECTED[relative]()
    assert e.line_count == e.sale_lines + e.return_lines
    assert e.units_sold - e.units_returned == sum(line.quantity for line in e.lines)
    for line in e.lines:
        assert line.quantity != 0 and line.currency and line.order_id and line.product_id is not None
        assert line.ordered_at.utcoffset().total_seconds() == 0
        assert (line.quantity > 0) == (line.kind == expected.SALE)
        assert line.amount / line.quantity >= 0  # a unit price is never negative
        rounded_price = (line.amount / line.quantity).quantize(D("0.01"), ROUND_HALF_UP)
        assert line.rounded_amount == rounded_price * line.quantity
        assert abs(line.rounded_amount - line.amount) <= abs(line.quantity) * D("0.005")
    for currency, total in e.net_amount.items():
        assert total == sum(line.amount for line in e.lines if line.currency == currency)


def test_a_return_or_cancellation_line_mirrors_a_sale_line_of_the_same_record():
    for compute in (expected.shopify_orders_export_1, expected.shopify_orders_export_2, expected.woocommerce_orders_2024_01):
        e = compute()
        sales = {line.source_line: line for line in e.lines if line.kind == expected.SALE}
        for line in e.lines:
            if line.kind != expected.SALE:
                sale = sales[line.source_line]
                assert (line.order_id, line.product_id, line.currency) == (sale.order_id, sale.product_id, sale.currency)
                assert -line.quantity <= sale.quantity and -line.amount <= sale.amount


# --- Shopify ---------------------------------------------------------------------------------------------

SHOPIFY_FILES = ["shopify/orders_export_1.csv", "shopify/orders_export_2.csv"]


@pytest.mark.parametrize("relative", SHOPIFY_FILES)
def test_shopify_header_is_the_79_column_orders_export(relative):
    first_line = (EXPORTS / relative).read_bytes().split(b"\n", 1)[0]
    assert first_line == ",".join(expected.SHOPIFY_HEADER).encode()  # UTF-8, no BOM, LF
    assert len(expected.SHOPIFY_HEADER) == 79
    _header, rows = _rows(relative)
    assert all(len(row) == 79 for row in rows)


def _shopify_orders(relative):
    orders = defaultdict(list)
    for row in _dicts(relative):
        orders[row["Name"]].append(row)
    return orders


@pytest.mark.parametrize("relative", SHOPIFY_FILES)
def test_shopify_order_columns_are_on_the_first_row_of_an_order_only(relative):
    names = [row["Name"] for row in _dicts(relative)]
    assert names == sorted(names, key=names.index)  # an order's rows are together
    for rows in _shopify_orders(relative).values():
        first, *later = rows
        assert first["Currency"] and first["Financial Status"] and first["Total"]
        for row in later:
            filled = {column for column, value in row.items() if value}
            assert filled <= set(expected.SHOPIFY_LINE_COLUMNS)
            assert (row["Name"], row["Email"], row["Created at"]) == (first["Name"], first["Email"], first["Created at"])


@pytest.mark.parametrize("relative", SHOPIFY_FILES)
def test_shopify_order_totals_match_their_lines(relative):
    for name, rows in _shopify_orders(relative).items():
        first = rows[0]
        charged = sum(D(r["Lineitem price"]) * int(r["Lineitem quantity"]) - D(r["Lineitem discount"]) for r in rows)
        assert D(first["Subtotal"]) == charged, name
        assert D(first["Discount Amount"]) == sum(D(r["Lineitem discount"]) for r in rows), name
        assert D(first["Total"]) == D(first["Subtotal"]) + D(first["Shipping"]), name  # prices include tax
        refunded = D(first["Refunded Amount"])
        status = first["Financial Status"]
        assert (refunded == D(first["Total"])) == (status == "refunded"), name
        assert (D(0) < refunded < D(first["Total"])) == (status == "partially_refunded"), name


def test_shopify_export_1_has_the_awkward_parts():
    rows = _dicts("shopify/orders_export_1.csv")
    firsts = [rows_[0] for rows_ in _shopify_orders("shopify/orders_export_1.csv").values()]
    assert {row["Currency"] for row in firsts} == {"EUR", "GBP", "USD"}
    assert {row["Created at"][-5:] for row in firsts} == {"+0100", "+0200"}  # across the DST change
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", row["Created at"]) for row in rows)
    statuses = {row["Financial Status"] for row in firsts}
    assert {"paid", "refunded", "partially_refunded", "voided"} <= statuses
    assert sum(1 for row in firsts if row["Cancelled at"]) == 1
    assert sum(1 for row in firsts if not row["Email"]) == 1  # the POS guest
    assert sum(1 for row in rows if not row["Lineitem sku"]) == 1
    assert any(row["Discount Code"] for row in firsts) and any(D(row["Lineitem discount"]) for row in rows)
    assert any("," in row["Lineitem name"] and '"' in row["Lineitem name"] for row in rows)
    assert any("\n" in row["Notes"] for row in rows)  # one record over two physical lines
    physical = (EXPORTS / "shopify/orders_export_1.csv").read_text(encoding="utf-8").count("\n")
    assert physical == len(rows) + 2
    assert any(row["Billing Zip"].startswith("'") for row in rows)


def test_shopify_export_2_re_sends_an_order_of_export_1_now_refunded():
    before = _shopify_orders("shopify/orders_export_1.csv")
    after = _shopify_orders("shopify/orders_export_2.csv")
    assert len(after) == 3
    resent = set(before) & set(after)
    assert resent == {"#1005"}
    assert before["#1005"][0]["Financial Status"] == "partially_refunded"
    assert after["#1005"][0]["Financial Status"] == "refunded"
    line_columns = ["Lineitem sku", "Lineitem quantity", "Lineitem price", "Lineitem discount"]
    assert [[r[c] for c in line_columns] for r in before["#1005"]] == [[r[c] for c in line_columns] for r in after["#1005"]]


def test_shopify_after_both_exports_replaces_the_re_sent_order():
    first, second = expected.shopify_orders_export_1(), expected.shopify_orders_export_2()
    both = expected.shopify_after_both_exports()
    kept = [line for line in first.lines if line.order_id != "#1005"]
    assert sorted(both.lines, key=repr) == sorted(kept + list(second.lines), key=repr)
    assert both.orders == 14 and both.line_count == 34
    assert both.net_amount == {"EUR": D("372.45"), "GBP": D("85.15"), "USD": D("169.50")}
    assert both.net_amount_rounded == {"EUR": D("372.44"), "GBP": D("85.15"), "USD": D("169.50")}
    assert (both.units_sold, both.units_returned) == (55, 8)
    assert both.unallocated_refunds == ()  # #1005's partial refund is now its return lines


# --- WooCommerce -----------------------------------------------------------------------------------------

WOO = "woocommerce/orders-2024-01.csv"
WOO_ORDER_COLUMNS = expected.WOOCOMMERCE_HEADER[:38] + expected.WOOCOMMERCE_HEADER[51:]


def test_woocommerce_header_is_default_one_row_per_item():
    first_line = (EXPORTS / WOO).read_bytes().split(b"\n", 1)[0]
    assert first_line == ",".join(expected.WOOCOMMERCE_HEADER).encode()
    header, rows = _rows(WOO)
    assert len(header) == 57 and all(len(row) == 57 for row in rows)
    assert header[:38][-1] == "customer_note" and header[51] == "shipping_items"


def test_woocommerce_order_columns_repeat_on_every_item_row_and_add_up():
    orders = defaultdict(list)
    for row in _dicts(WOO):
        orders[row["order_id"]].append(row)
    for order_id, rows in orders.items():
        first = rows[0]
        for row in rows:
            assert [row[c] for c in WOO_ORDER_COLUMNS] == [first[c] for c in WOO_ORDER_COLUMNS], order_id
            quantity = int(row["item_quantity"])
            price = (D(row["item_subtotal"]) / quantity).quantize(D("0.01"), ROUND_HALF_UP)
            assert D(row["item_price"]) == price
            assert D(row["item_total"]) <= D(row["item_subtotal"])
            assert int(row["item_refunded_qty"]) <= 0
        items = sum(D(r["item_total"]) for r in rows)
        assert D(first["discount_total"]) == sum(D(r["item_subtotal"]) - D(r["item_total"]) for r in rows)
        assert D(first["tax_total"]) == sum(D(r["item_total_tax"]) for r in rows) + D(first["shipping_tax_total"])
        assert D(first["order_total"]) == (items + D(first["shipping_total"]) + D(first["fee_total"]) + D(first["tax_total"])), (
            order_id
        )
        if first["status"] == "refunded":
            assert first["refunded_total"] == first["order_total"]


def test_woocommerce_fixture_has_the_awkward_parts():
    rows = _dicts(WOO)
    assert {"completed", "processing", "refunded", "cancelled", "on-hold"} == {r["status"] for r in rows}
    assert {r["order_currency"] for r in rows} == {"EUR", "CHF", "USD"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["date"]) for r in rows)
    assert all(r["order_number"] == "" for r in rows)
    assert any(r["customer_id"] == "0" for r in rows)
    partial = [r for r in rows if int(r["item_refunded_qty"]) and r["status"] != "refunded"]
    assert [(r["order_id"], r["item_refunded"], r["item_refunded_qty"]) for r in partial] == [("4118", "8.90", "-1")]
    odd = [r for r in rows if (D(r["item_total"]) / int(r["item_quantity"])).as_tuple().exponent < -2]
    assert [(r["item_total"], r["item_quantity"]) for r in odd] == [("10.00", "3")]
    assert any(r["billing_phone"].startswith("'+") for r in rows)  # the extension's formula escaping
    assert any("\n" in r["customer_note"] for r in rows)
    assert any(r["item_sku"] == "unknown_product" and r["item_product_id"] == "0" for r in rows)
    text = (EXPORTS / WOO).read_text(encoding="utf-8")
    assert '"2024-01-01 00:20:05"' in text  # PHP's fputcsv encloses any field with a space


def test_woocommerce_new_year_order_is_in_december_in_utc():
    e = expected.woocommerce_orders_2024_01()
    assert e.first_ordered_at.isoformat() == "2023-12-31T23:20:05+00:00"


# --- UCI Online Retail -----------------------------------------------------------------------------------

RETAIL = {
    "online_retail/Online Retail.csv": (expected.ONLINE_RETAIL_HEADER, r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d", r"\d{5}"),
    "online_retail_ii/online_retail_II.csv": (expected.ONLINE_RETAIL_II_HEADER, r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r"\d{5}\.0"),
}


@pytest.mark.parametrize("relative", sorted(RETAIL))
def test_online_retail_files_are_latin_1_with_their_copies_formats(relative):
    header_columns, date_pattern, customer_pattern = RETAIL[relative]
    raw = (EXPORTS / relative).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header, rows = _rows(relative, encoding="latin-1")
    assert tuple(header) == header_columns and all(len(row) == 8 for row in rows)
    invoice, _, description, quantity, date, price, customer, country = range(8)
    assert all(re.fullmatch(date_pattern, row[date]) for row in rows)
    assert all(row[customer] == "" or re.fullmatch(customer_pattern, row[customer]) for row in rows)
    assert any(row[customer] == "" for row in rows)
    assert all(int(row[quantity]) < 0 for row in rows if row[invoice].startswith("C"))
    assert any(row[invoice].startswith("C") for row in rows)
    assert {"POST", "M"} <= {row[1] for row in rows}
    assert {"United Kingdom", "EIRE", "Unspecified"} <= {row[country] for row in rows}
    assert any(any(ord(c) > 127 for c in row[description]) for row in rows)
    assert any(D(row[price]) < 0 for row in rows)


# --- Purchase logs ---------------------------------------------------------------------------------------


def test_purchase_logs_are_whitespace_aligned_with_a_bom_and_old_line_ends():
    main = (EXPORTS / "purchase_log/purchases.log").read_bytes()
    crlf = (EXPORTS / "purchase_log/purchases_crlf.log").read_bytes()
    assert main.startswith(b"\xef\xbb\xbf") and crlf.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in main and main.count(b"\r") == 16
    assert crlf.count(b"\r\n") == 16 and crlf.count(b"\r") == 16
    assert main.replace(b"\r", b"\r\n") == crlf
    records = main.decode("utf-8-sig").split("\r")[:-1]
    assert records[0].split() == list(expected.PURCHASE_LOG_HEADER)
    assert "," not in records[0] and "\t" not in main.decode("utf-8-sig")
    assert any(record.endswith(" ") for record in records)
    assert any(re.search(r"\$\d{1,3}(,\d{3})+\.\d\d", record) for record in records)
    assert any(record.split()[2].startswith("-") and record.split()[3].startswith("-$") for record in records)
    assert expected.purchases() == expected.purchases_crlf()


def test_the_european_purchase_log_is_windows_1252_semicolons_and_comma_decimals():
    raw = (EXPORTS / "purchase_log/purchases_eu.csv").read_bytes()
    assert b"\x80" in raw and raw.count(b"\r\n") == 7
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header, rows = _rows("purchase_log/purchases_eu.csv", encoding="cp1252", delimiter=";")
    assert tuple(header) == expected.PURCHASE_LOG_EU_HEADER
    assert all(re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d\d €", row[3]) for row in rows)
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}", row[1]) for row in rows)


def test_expected_is_independent_of_the_ingestion_code():
    source = (EXPORTS / "expected.py").read_text(encoding="utf-8")
    imports = re.findall(r"^(?:from|import) (\S+)", source, flags=re.MULTILINE)
    assert set(imports) <= {"__future__", "csv", "dataclasses", "datetime", "decimal", "pathlib", "zoneinfo"}
