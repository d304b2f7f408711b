"""The ECB rate files without a database: reading both ECB formats, which file wins a day, which days
each currency has a rate on, the loader's quarantine of lines without one, and the dbt vars."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.exchange_rates import coverage, merged_rates, parse_ecb_csv, rate_files, read_ecb_file, read_rates
from ingestion.readers import read_records
from ingestion.sources import load_mapping
from ingestion.transform import INSTANT, BatchMapper, ValueRules
from orchestration.dbt_cli import dbt_build_args, dbt_vars

# The history file's layout: newest day first, "N/A" where a currency was not quoted, and a trailing
# comma on every row (an empty last column).
HISTORY = """Date,USD,JPY,GBP,RUB,
2024-03-12,1.0922,161.17,0.85405,N/A,
2024-03-11,1.0926,160.33,0.85195,N/A,
2024-03-08,1.0932,160.82,0.85105,N/A,
2022-03-01,1.1162,128.63,0.83303,117.2917,
2022-02-28,1.1216,129.28,0.83543,N/A,
2022-02-25,1.1216,129.61,0.83603,93.2351,
"""
# The daily file (eurofxref.csv): a long date, cells padded with a space.
DAILY = """Date, USD, JPY, GBP, RUB,
13 March 2024, 1.0939, 161.53, 0.85455, N/A,
"""


def test_the_history_format_is_read_with_its_gaps_and_empty_last_column():
    rates = parse_ecb_csv(HISTORY)
    assert sorted(rates) == [
        date(2022, 2, 25),
        date(2022, 2, 28),
        date(2022, 3, 1),
        date(2024, 3, 8),
        date(2024, 3, 11),
        date(2024, 3, 12),
    ]
    assert rates[date(2024, 3, 12)] == {
        "EUR": Decimal(1),
        "USD": Decimal("1.0922"),
        "JPY": Decimal("161.17"),
        "GBP": Decimal("0.85405"),
    }
    assert rates[date(2022, 2, 25)]["RUB"] == Decimal("93.2351")
    assert "RUB" not in rates[date(2022, 2, 28)]


def test_the_daily_format_and_a_zip_are_read(tmp_path):
    assert parse_ecb_csv(DAILY) == {
        date(2024, 3, 13): {"EUR": 1, "USD": Decimal("1.0939"), "JPY": Decimal("161.53"), "GBP": Decimal("0.85455")}
    }
    archive = tmp_path / "eurofxref-hist.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("eurofxref-hist.csv", HISTORY)
    assert read_ecb_file(archive) == parse_ecb_csv(HISTORY)


def test_per_day_the_newest_file_wins_whatever_the_order():
    """The newest file is the one reaching the furthest: its rates replace an older file's that day
    (a corrected rate), and the older file's other days stay."""
    older = parse_ecb_csv("Date,USD,\n2024-03-11,1.0000,\n2001-01-02,0.9423,\n")
    newer = parse_ecb_csv(HISTORY)
    for files in ([older, newer], [newer, older]):
        merged = merged_rates(files)
        assert merged[date(2024, 3, 11)]["USD"] == Decimal("1.0926")
        assert merged[date(2001, 1, 2)]["USD"] == Decimal("0.9423")
        assert list(merged) == sorted(merged)


def test_the_packaged_history_reaches_1999_and_a_dropped_file_extends_it(tmp_path):
    packaged = read_rates(tmp_path)
    assert min(packaged) == date(1999, 1, 4)
    last = max(packaged)
    (tmp_path / "eurofxref.csv").write_text(
        f"Date, USD, GBP,\n{(last.replace(year=last.year + 1)).strftime('%d %B %Y')}, 1.2000, 0.9000,\n"
    )
    assert [path.name for path in rate_files(tmp_path)][1:] == ["eurofxref.csv"]
    extended = read_rates(tmp_path)
    assert max(extended) == last.replace(year=last.year + 1)
    assert coverage(extended).last_rate_day == max(extended)


def test_a_currency_is_covered_from_its_first_quote_until_a_publication_without_it():
    covered = coverage(parse_ecb_csv(HISTORY))
    assert covered.first_rate_day == date(2022, 2, 25)
    assert covered.last_rate_day == date(2024, 3, 12)
    # A weekend takes Friday's publication: RUB was quoted on Friday 25 February 2022, not on Monday.
    assert covered.covers("RUB", date(2022, 2, 27))
    assert not covered.covers("RUB", date(2022, 2, 28))
    assert covered.covers("RUB", date(2022, 3, 1))
    assert not covered.covers("RUB", date(2024, 3, 12))
    assert not covered.covers("USD", date(2022, 2, 24))  # before the first publication
    # After the last publication its rates hold (forward-filled), for every currency it quoted.
    assert covered.covers("USD", date(2030, 1, 1))
    assert covered.covers("EUR", date(2030, 1, 1))
    assert not covered.covers("XAU", date(2024, 3, 12))


MAPPING = """
name: shop
identify: [Order, Date, SKU, Qty, Price, Currency]
columns: {order_id: Order, ordered_at: Date, product_id: SKU, quantity: Qty, unit_price: Price, currency: Currency}
"""


def _checked(tmp_path: Path, rows: list[str], rules: ValueRules) -> tuple[list[dict], list[tuple], BatchMapper]:
    (tmp_path / "shop.yaml").write_text(MAPPING)
    mapping = load_mapping(tmp_path / "shop.yaml")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(["Order,Date,SKU,Qty,Price,Currency", *rows]) + "\n")
    stream = read_records(path, mapping)
    mapper = BatchMapper(mapping, stream.header, pa.scalar(datetime(2100, 1, 1), INSTANT), rules)
    lines, quarantined = [], []
    for batch in stream.batches:
        checked = mapper.check(batch)
        lines += checked.lines.to_pylist()
        quarantined += list(zip(checked.quarantined["source_line"].to_pylist(), checked.quarantined["reason"].to_pylist()))
    return lines, quarantined, mapper


def test_a_line_without_a_rate_on_its_day_is_quarantined_with_currency_and_day(tmp_path):
    rules = ValueRules(exchange_rates=coverage(parse_ecb_csv(HISTORY)), reporting_currency="GBP")
    lines, quarantined, mapper = _checked(
        tmp_path,
        [
            "O1,2024-03-12T10:00:00Z,P1,1,10.00,RUB",  # RUB no longer quoted
            "O2,2024-03-12T10:00:00Z,P1,1,10.00,USD",
            "O3,2022-02-27T10:00:00Z,P1,1,10.00,RUB",  # a Sunday: Friday's rate
            "O4,2020-01-01T10:00:00Z,P1,1,10.00,GBP",  # the reporting currency needs no rate
            "O5,2020-01-01T10:00:00Z,P1,1,10.00,EUR",  # before the first rate (of this file)
            "O6,2024-03-15T10:00:00Z,P1,1,10.00,JPY",  # after the last publication: its rates
            "O7,2024-03-12T10:00:00Z,P1,1,10.00,XAU",  # never quoted
        ],
        rules,
    )
    assert [line["order_id"] for line in lines] == ["O2", "O3", "O4", "O6"]
    assert quarantined == [
        (2, "no ECB exchange rate for RUB on 2024-03-12"),
        (6, "no ECB exchange rate for EUR on 2020-01-01"),
        (8, "no ECB exchange rate for XAU on 2024-03-12"),
    ]
    assert mapper.lines_after_last_rate == 1


def test_the_day_of_a_line_is_its_day_in_the_reporting_time_zone(tmp_path):
    """23:30 UTC on 28 February 2022 is 1 March in Tokyo, a day RUB was quoted."""
    history = coverage(parse_ecb_csv(HISTORY))
    row = ["O1,2022-02-28T23:30:00Z,P1,1,10.00,RUB"]
    _, in_utc, _ = _checked(tmp_path, row, ValueRules(exchange_rates=history))
    assert in_utc == [(2, "no ECB exchange rate for RUB on 2022-02-28")]
    _, in_tokyo, _ = _checked(tmp_path, row, ValueRules(exchange_rates=history, reporting_timezone="Asia/Tokyo"))
    assert in_tokyo == []


def test_the_reporting_currency_without_a_rate_is_named(tmp_path):
    rules = ValueRules(exchange_rates=coverage(parse_ecb_csv(HISTORY)), reporting_currency="RUB")
    _, quarantined, _ = _checked(
        tmp_path, ["O1,2024-03-12T10:00:00Z,P1,1,10.00,USD", "O2,2024-03-12T10:00:00Z,P1,1,10.00,RUB"], rules
    )
    assert quarantined == [(2, "no ECB exchange rate for RUB on 2024-03-12")]


@pytest.mark.parametrize("currency", ["EUR", "GBP", "JPY"])
def test_the_reporting_currency_reaches_dbt_as_a_var(currency):
    args = dbt_vars(currency)
    assert args[0] == "--vars" and json.loads(args[1]) == {"reporting_currency": currency}
    assert dbt_build_args(full_refresh=True, dbt_vars=args) == ["build", *args, "--full-refresh"]
