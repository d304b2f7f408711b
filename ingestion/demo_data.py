"""Deterministic demo data: raw order files as the online shop would drop them.

``generate_orders`` writes one file per day, ``orders_YYYY-MM-DD.<csv|jsonl|parquet>``
(``.csv.gz`` / ``.jsonl.gz`` with ``compress=True``), holding the input contract
columns in this order::

    order_id, ordered_at, customer_id, product_id, product_name, category,
    quantity, unit_price, currency, country, status, channel

The same arguments always give byte-identical files: every random draw comes from
``numpy.random.PCG64`` streams derived from ``seed`` with ``SeedSequence`` spawn keys,
one stream per day, and nothing depends on today's date (the default first day is
``DEFAULT_START``, 2025-01-01).

A run can also continue a ``History`` (the last day, order and customer numbers already
delivered): its days, order ids and new customer ids follow the history's, so that the
loader, which replaces an order whose id it has loaded before, adds the new orders rather
than replacing old ones. ``ingestion.demo_history`` finds a folder's history and is what
``ecom generate`` runs; without a history a run is exactly the fresh shop described here.

What the data models, so that the marts and dashboards have something to show:

* customers who sign up with their first order (~35% of registered orders, so new
  customers arrive with the traffic) next to customers from the year before the run,
  repeat orders by a gamma-distributed purchase rate (a few heavy buyers, many
  occasional ones), churn after an exponential lifetime, ~12% guest checkouts
  (empty customer_id);
* daily order counts with a weekend peak, yearly seasonality, slow growth and
  promotions: Black Week up to Cyber Monday, the December run-up, a summer sale;
* 320 products in 8 categories with Zipf-like popularity and a stable list price
  per product and currency, discounted lines (10-30% off) and free gifts (0.00);
* returns (~5% of orders, one negative line with status ``returned`` 1-30 days
  later), cancellations (~1%, negative copies of every line with status
  ``cancelled`` the same or the next day); both carry the time of the return or
  cancellation in ``ordered_at`` and keep the order's ``order_id``;
* late rows (~1% of a day's orders are only in the next day's file, ordered_at still
  on their day) and re-sent orders (~0.5%, sent again 1-7 files later with every
  line and one corrected quantity or price, for a loader that replaces an order
  seen again). Returned and cancelled orders are never re-sent, so a re-sent
  order's lines are exactly its sale lines; return and cancellation lines come on
  their own and add to their order rather than replace it.

With ``defect_rate > 0`` that fraction of each file's lines is added as bad copies of
real lines (the clean data stays complete, so quarantining the bad rows gives back
the defect-free run), cycling through ``DEFECT_KINDS`` so that every kind appears
at least once per run:

================================  =============================================
kind                              bad value
================================  =============================================
missing_order_id                  order_id ``""``
missing_ordered_at                ordered_at ``""``
missing_product_id                product_id ``""``
unparseable_quantity              quantity ``"two"``
zero_quantity                     quantity ``0``
unparseable_unit_price            unit_price ``"12,9x"``
negative_unit_price               unit_price negated (``"-19.90"``; ``"-1.00"`` for a free gift)
unknown_currency                  currency ``"XYZ"``
unparseable_timestamp             ordered_at ``"yesterday"``
future_timestamp                  ordered_at moved to the same moment of year 2099
================================  =============================================

Missing values are empty strings (guest customer_id too). Parquet's typed columns
cannot hold text, so there the unparseable quantity, unit price and timestamp and
the missing timestamp are nulls. Each run with defects
also writes one broken file of each kind in ``BROKEN_FILE_KINDS`` (an empty file, a
file without the product_id column, and for csv/jsonl a Windows-1252 file that is
not valid UTF-8, for parquet a file cut in half), named
``orders_YYYY-MM-DD_broken-<kind>.<ext>``.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.sources import CONTRACT_COLUMNS, FORMATS

DEFAULT_START = date(2025, 1, 1)
_COUNTRIES = (  # country, currency, share of orders
    ("DE", "EUR", 0.27),
    ("FR", "EUR", 0.13),
    ("GB", "GBP", 0.13),
    ("US", "USD", 0.15),
    ("NL", "EUR", 0.08),
    ("SE", "SEK", 0.05),
    ("AT", "EUR", 0.05),
    ("ES", "EUR", 0.05),
    ("DK", "DKK", 0.04),
    ("CH", "CHF", 0.05),
)
CURRENCY_BY_COUNTRY = {country: currency for country, currency, _ in _COUNTRIES}
STATUSES = ("completed", "returned", "cancelled")
CHANNELS = ("web", "mobile", "marketplace")
DEFECT_KINDS = (
    "missing_order_id",
    "missing_ordered_at",
    "missing_product_id",
    "unparseable_quantity",
    "zero_quantity",
    "unparseable_unit_price",
    "negative_unit_price",
    "unknown_currency",
    "unparseable_timestamp",
    "future_timestamp",
)
BROKEN_FILE_KINDS = {
    "csv": ("empty", "missing-column", "invalid-utf8"),
    "jsonl": ("empty", "missing-column", "invalid-utf8"),
    "parquet": ("empty", "missing-column", "truncated"),
}

# Defects whose bad value is a fixed text: (column, text written in csv/jsonl).
_TEXT_DEFECTS = {
    "missing_order_id": ("order_id", ""),
    "missing_ordered_at": ("ordered_at", ""),
    "missing_product_id": ("product_id", ""),
    "unparseable_quantity": ("quantity", "two"),
    "unparseable_unit_price": ("unit_price", "12,9x"),
    "unknown_currency": ("currency", "XYZ"),
    "unparseable_timestamp": ("ordered_at", "yesterday"),
}
_PARQUET_TYPED_COLUMNS = ("ordered_at", "quantity", "unit_price")
_MISSING_COLUMN = "product_id"
_BROKEN_SAMPLE_LINES = 20

# Independent random streams: the catalog depends on the seed only, so a shop keeps
# its products whatever the size of the run; each day and each day's defects get
# their own stream so a day's content never depends on how much was drawn before.
_CATALOG_STREAM, _CUSTOMER_STREAM, _CALENDAR_STREAM = 0, 1, 2
_DAY_STREAM, _DEFECT_STREAM, _BROKEN_FILE_STREAM = 3, 4, 5
# A run that continues a history draws its customers' habits per block of customer numbers, so
# that customer C000123 keeps the same country and habits in every later run.
_CUSTOMER_TRAITS_STREAM, _CUSTOMERS_PER_TRAITS_BLOCK = 6, 4096

_SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)

# --- shop behaviour -----------------------------------------------------------------
_COUNTRY_SHARES = np.array([share for _, _, share in _COUNTRIES])
# the rates of dbt_project/seeds/currency_rates.csv, so that a product's prices agree in EUR
_UNITS_PER_EUR = {"EUR": 1.0, "GBP": 0.85, "USD": 1.08, "SEK": 11.2, "DKK": 7.46, "CHF": 0.95}
_CHANNEL_SHARES = np.array([0.55, 0.35, 0.10])
_LINES_PER_ORDER_SHARES = np.array([0.45, 0.28, 0.14, 0.08, 0.05])  # 1..5 lines
_HOURLY_SHARES = np.array(
    [0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.6, 1.0, 1.3, 1.5, 1.6, 1.7]
    + [1.8, 1.7, 1.6, 1.6, 1.7, 1.9, 2.2, 2.5, 2.6, 2.3, 1.7, 1.1]
)
_HOURLY_SHARES = _HOURLY_SHARES / _HOURLY_SHARES.sum()
_WEEKDAY_DEMAND = (0.93, 0.91, 0.92, 0.96, 1.04, 1.22, 1.28)  # Monday .. Sunday
_YEARLY_AMPLITUDE = 0.12  # winter busier than summer
_YEARLY_GROWTH = 1.2
_DAILY_NOISE = 0.06

_GUEST_SHARE = 0.12
_FIRST_ORDER_SHARE = 0.35  # of registered orders: a new customer's first order
_EXISTING_CUSTOMERS_PER_ORDER = 0.25  # customers from the year before the run, per registered order
_MEAN_LIFETIME_DAYS = 300
_PURCHASE_RATE_SHAPE = 0.5  # gamma shape < 1: a few heavy buyers, many occasional

_QUANTITY_ONE_SHARE, _MAX_QUANTITY = 0.78, 6
_FREE_GIFT_SHARE = 0.005
_LATE_SHARE = 0.01
_CANCEL_SHARE, _RETURN_SHARE, _RESEND_SHARE = 0.01, 0.05, 0.005
_MAX_RETURN_DAYS, _MAX_RESEND_DAYS = 30, 7
_MIN_CANCEL_DELAY_SECONDS = 600

_CATEGORIES = (
    # name, share of products, list price range in EUR, items
    ("Electronics", 0.16, (15, 600), (
        "Wireless Headphones", "Bluetooth Speaker", "Smartwatch", "USB-C Charger, 65W",
        '27" Monitor', "HD Webcam", "Power Bank", "E-Reader",
    )),
    ("Fashion", 0.16, (12, 160), (
        "T-Shirt", "Hoodie", "Slim Jeans", "Sneakers", "Rain Jacket", "Wool Scarf",
        "Leather Belt", "Socks, 3-Pack",
    )),
    ("Home & Kitchen", 0.14, (6, 220), (
        "Chef's Knife", "Espresso Cups, Set of 4", "Cast Iron Pan", "Linen Tea Towel",
        "Storage Jar", "Table Lamp", "Scented Candle",
    )),
    ("Beauty", 0.10, (4, 70), (
        "Face Cream", "Shampoo", "Lip Balm", "Eau de Parfum", "Hand Soap",
        "Sheet Mask, 5-Pack",
    )),
    ("Sports & Outdoors", 0.12, (8, 350), (
        "Yoga Mat", "Running Shorts", "Water Bottle", "Tent, 2 Person", "Dumbbell Set",
        "Bike Light",
    )),
    ("Books", 0.12, (5, 40), (
        "Cookbook", "Travel Guide", "Crime Novel", "Dotted Notebook",
        "Children's Picture Book", 'Novel "The Quiet Harbour"',
    )),
    ("Toys & Games", 0.10, (6, 110), (
        "Board Game", "Puzzle, 1000 Pieces", "Building Blocks", "Plush Bear", "Card Game",
        "Wooden Train",
    )),
    ("Grocery", 0.10, (2, 30), (
        "Coffee Beans, 1 kg", "Green Tea", "Dark Chocolate 70%", "Olive Oil", "Granola",
        "Wildflower Honey",
    )),
)
# Accented brands make Windows-1252 exports differ from UTF-8 (see the broken files).
_BRANDS = (
    "Nordvik", "Café Lumière", "Atlas", "Grünwald", "Bluebird", "Måne", "Terra",
    "Pixelwerk", "Sol & Sal", "Evergreen", "Kiri", "Hafen",
)
_VARIANTS = (
    "", "", "", " Classic", " Pro", " Mini", " XL", " Eco", ' "Limited Edition"',
    ", Black", ", White", " 2.0",
)
_PRODUCT_COUNT = 320
_ZIPF_EXPONENT = 1.1
_PRICE_ENDINGS_CENTS = np.array([1, 5, 10])  # x.99, x.95, x.90

# --- text rendering lookups (bytes, so that whole columns concatenate in C) ---------


def _digit_table(width: int) -> np.ndarray:
    """Every integer below 10**width as zero-padded decimal bytes."""
    digits = np.arange(10**width)[:, None] // 10 ** np.arange(width - 1, -1, -1) % 10 + ord("0")
    return digits.astype(np.uint8).view(f"S{width}").ravel()


def _concatenated(pieces: Iterable[bytes | np.ndarray]) -> np.ndarray:
    """Row-wise concatenation of bytes arrays and constant bytes."""
    return reduce(np.strings.add, pieces)


_PADDED_5_DIGITS = _digit_table(5)
_PADDED_2_DIGITS = _digit_table(2)
_PLAIN_INTEGERS = np.arange(100_000).astype("S5")


def _time_of_day_table() -> np.ndarray:
    """``THH:MM:SS+00:00`` for every second of a day."""
    minutes, second = np.divmod(np.arange(_SECONDS_PER_DAY), 60)
    hour, minute = np.divmod(minutes, 60)
    hh, mm, ss = _PADDED_2_DIGITS[hour], _PADDED_2_DIGITS[minute], _PADDED_2_DIGITS[second]
    return _concatenated([b"T", hh, b":", mm, b":", ss, b"+00:00"])


_TIME_OF_DAY = _time_of_day_table()
_CURRENCY_TEXT = np.array([currency.encode() for currency in CURRENCY_BY_COUNTRY.values()])
_COUNTRY_TEXT = np.array([country.encode() for country in CURRENCY_BY_COUNTRY])
_STATUS_TEXT = np.array([status.encode() for status in STATUSES])
_CHANNEL_TEXT = np.array([channel.encode() for channel in CHANNELS])


def _byte_lookup(byte_set: bytes) -> np.ndarray:
    lookup = np.zeros(256, dtype=bool)
    lookup[list(byte_set)] = True
    return lookup


_NEEDS_CSV_QUOTES = _byte_lookup(b',"\r\n')
_NEEDS_JSON_ESCAPE = _byte_lookup(b'"\\' + bytes(range(1, 32)))
_NOT_IN_JSON_INTEGER = ~_byte_lookup(b"-0123456789\x00")  # NUL is numpy's padding of shorter values
_TEXT_CHUNK_LINES = 200_000


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    lines: int  # data lines written (excluding header)
    bad_lines: int = 0  # lines the loader must quarantine (all lines of a broken file)
    broken: str | None = None  # kind of broken file, None for a loadable file


@dataclass(frozen=True)
class History:
    """What earlier runs (or a shop) already delivered: a run that continues it numbers its orders
    and new customers after the last ones and starts the day after ``last_day``."""

    last_day: date | None = None  # the last day delivered
    last_order: int = 0  # highest order number (ORD-0000000042 is 42)
    last_customer: int = 0  # highest customer number (C000042 is 42)
    customer_digits: int = 6  # customer numbers are zero-padded to this width

    @property
    def is_empty(self) -> bool:
        return self.last_day is None and self.last_order == 0 and self.last_customer == 0

    @property
    def next_day(self) -> date | None:
        return None if self.last_day is None else self.last_day + timedelta(days=1)

    def merged(self, other: History) -> History:
        """The history holding both: the later day, the higher numbers."""
        days = [day for day in (self.last_day, other.last_day) if day is not None]
        return History(
            last_day=max(days, default=None),
            last_order=max(self.last_order, other.last_order),
            last_customer=max(self.last_customer, other.last_customer),
            customer_digits=max(self.customer_digits, other.customer_digits),
        )


@dataclass(frozen=True)
class GenerationReport:
    files: list[GeneratedFile]
    orders: int  # distinct orders generated
    lines: int  # data lines written over all files
    first_day: date | None = None
    last_day: date | None = None
    history: History | None = None  # the history including this run
    continued_from: History | None = None  # the history this run continued, None for a fresh start

    @property
    def bad_lines(self) -> int:
        return sum(file.bad_lines for file in self.files)

    @property
    def broken_files(self) -> list[GeneratedFile]:
        return [file for file in self.files if file.broken is not None]

    def summary(self) -> str:
        text = f"{len(self.files)} files, {self.orders} orders, {self.lines} lines"
        if self.bad_lines:
            text += f" ({self.bad_lines} bad lines, {len(self.broken_files)} broken files)"
        return text


def generate_orders(
    out_dir: Path,
    *,
    orders: int,
    days: int,
    seed: int = 42,
    file_format: str = "csv",
    defect_rate: float = 0.0,
    start: date | None = None,
    compress: bool = False,
    progress: Callable[[int], None] | None = None,
    history: History | None = None,
) -> GenerationReport:
    """Write ``days`` daily order files with ``orders`` orders in total into ``out_dir``.

    ``start`` is the first day (default ``DEFAULT_START``, or the day after ``history``'s
    last day). ``compress`` gzips csv and jsonl files (parquet compresses internally and is
    never gzipped). ``progress`` is called after each file with the number of lines that
    file holds, so it plugs straight into ``tqdm.update``.

    Without ``history`` (or with an empty one) the run is a fresh shop: orders from
    ORD-0000000001, customers from C000001, byte-identical for the same arguments. With a
    ``history`` (see ``ingestion.demo_history``) the run continues it: order and new customer
    numbers follow the history's last ones, returning customers are drawn from the
    history's customers, and the random streams also depend on the history, so that one day
    after another never repeats a day. Nothing is written but the day files; the report's
    ``history`` is the history including this run.
    """
    if orders < 0 or days < 1:
        raise ValueError("orders must be >= 0 and days >= 1")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FORMATS)}")
    if not 0.0 <= defect_rate < 1.0:
        raise ValueError("defect_rate must be in [0, 1)")

    if history is not None and history.is_empty:
        history = None
    if history is not None and history.last_order + orders >= 10**10:
        raise ValueError("order numbers would pass ORD-9999999999")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = start or (history.next_day if history is not None else None) or DEFAULT_START
    shop = _Shop.create(seed=seed, orders=orders, days=days, start=start, history=history)
    broken_files_by_day = (
        _plan_broken_files(seed, shop.calendar, file_format, shop.salt) if defect_rate > 0 else {}
    )
    arriving: dict[int, list[_Lines]] = defaultdict(list)  # day -> lines of that day's file
    files: list[GeneratedFile] = []
    bad_lines_so_far = 0

    for day in range(days):
        new_lines, arrival_day = _simulate_day(shop, day, _rng(seed, _DAY_STREAM, day, *shop.salt))
        for target_day, part in _split_by_day(new_lines, arrival_day):
            if target_day < days:  # events after the last day are never delivered
                arriving[target_day].append(part)
        rows = _Lines.concat(arriving.pop(day, [])).sorted_for_file()

        defect_kinds = np.full(len(rows), -1, dtype=np.int8)
        if defect_rate > 0:
            rows, defect_kinds = _add_defects(
                rows,
                defect_rate,
                _rng(seed, _DEFECT_STREAM, day, *shop.salt),
                first_kind=bad_lines_so_far % len(DEFECT_KINDS),
                # every kind shows up at least once per run, even with tiny rates
                minimum=max(0, len(DEFECT_KINDS) - bad_lines_so_far),
            )
        day_files = [_write_day_file(out_dir, shop, day, rows, defect_kinds, file_format, compress)]
        bad_lines_so_far += day_files[0].bad_lines

        sample = new_lines.take(np.arange(min(_BROKEN_SAMPLE_LINES, len(new_lines))))
        for kind in broken_files_by_day.get(day, []):
            day_files.append(_write_broken_file(out_dir, shop, day, sample, kind, file_format, compress))
        for generated in day_files:
            files.append(generated)
            if progress is not None:
                progress(generated.lines)

    this_run = History(
        last_day=shop.calendar.dates[-1],
        last_order=(history.last_order if history is not None else 0) + orders,
        last_customer=len(shop.customers.ids),
        customer_digits=shop.customers.id_digits,
    )
    return GenerationReport(
        files=files,
        orders=orders,
        lines=sum(file.lines for file in files),
        first_day=shop.calendar.dates[0],
        last_day=shop.calendar.dates[-1],
        history=this_run if history is None else history.merged(this_run),
        continued_from=history,
    )


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=stream)))


# --- the shop: products, customers, order calendar ---------------------------------


@dataclass(frozen=True)
class _Catalog:
    product_ids: np.ndarray  # bytes
    names: np.ndarray  # UTF-8 bytes
    categories: np.ndarray  # bytes
    price_cents: np.ndarray  # list price in the country's currency, shape (products, countries)
    popularity_cdf: np.ndarray
    accented_product: int  # a product whose name is not ASCII

    @classmethod
    def create(cls, rng: np.random.Generator) -> _Catalog:
        category_of_product = rng.choice(
            len(_CATEGORIES), _PRODUCT_COUNT, p=[share for _, share, _, _ in _CATEGORIES]
        )
        names: list[str] = []
        list_price_eur = np.empty(_PRODUCT_COUNT)
        for product, category in enumerate(category_of_product):
            _, _, (lowest, highest), items = _CATEGORIES[category]
            brand = _BRANDS[product % len(_BRANDS)]  # every brand, accented ones included
            name = ""
            while not name or name in names:  # distinct names keep "top products" charts readable
                name = f"{brand} {items[rng.integers(len(items))]}{_VARIANTS[rng.integers(len(_VARIANTS))]}"
            names.append(name)
            list_price_eur[product] = math.exp(rng.uniform(math.log(lowest), math.log(highest)))

        # Shops price in round local amounts minus a charm ending (19.99, 24.95, 9.90).
        units_per_eur = np.array([_UNITS_PER_EUR[currency] for currency in CURRENCY_BY_COUNTRY.values()])
        whole_units = np.ceil(list_price_eur[:, None] * units_per_eur[None, :]).astype(np.int64)
        endings = _PRICE_ENDINGS_CENTS[rng.integers(len(_PRICE_ENDINGS_CENTS), size=_PRODUCT_COUNT)]
        price_cents = whole_units * 100 - endings[:, None]

        popularity = 1.0 / (rng.permutation(_PRODUCT_COUNT) + 1.0) ** _ZIPF_EXPONENT
        return cls(
            product_ids=np.array([f"P{i:04d}" for i in range(1, _PRODUCT_COUNT + 1)], dtype="S"),
            names=np.array([name.encode() for name in names]),
            categories=np.array([_CATEGORIES[c][0].encode() for c in category_of_product]),
            price_cents=price_cents,
            popularity_cdf=np.cumsum(popularity),
            accented_product=next(i for i, name in enumerate(names) if not name.isascii()),
        )


@dataclass(frozen=True)
class _Customers:
    """Registered customers, numbered in the order they signed up."""

    ids: np.ndarray  # bytes
    country: np.ndarray
    signup_day: np.ndarray  # day index, ascending; negative = signed up before the run
    churn_day: np.ndarray  # first day without orders
    purchase_rate: np.ndarray
    id_digits: int  # numbers are zero-padded to this width (larger ones keep all their digits)

    @classmethod
    def create(cls, rng: np.random.Generator, calendar: _Calendar) -> _Customers:
        registered_orders = calendar.order_counts * (1 - _GUEST_SHARE)
        # customers sign up with their first order, so they arrive with the traffic
        newcomers_per_day = rng.binomial(calendar.order_counts, (1 - _GUEST_SHARE) * _FIRST_ORDER_SHARE)
        existing_count = max(1, round(registered_orders.sum() * _EXISTING_CUSTOMERS_PER_ORDER))
        signup_day = np.concatenate(
            [
                np.sort(-rng.integers(1, 366, existing_count)),
                np.repeat(np.arange(len(newcomers_per_day)), newcomers_per_day),
            ]
        )
        count = len(signup_day)
        lifetime_days = 1 + rng.exponential(_MEAN_LIFETIME_DAYS, count).astype(np.int64)
        id_digits = max(6, len(str(count)))
        return cls(
            ids=np.strings.add(b"C", _zero_padded(np.arange(1, count + 1), id_digits)),
            country=rng.choice(len(CURRENCY_BY_COUNTRY), count, p=_COUNTRY_SHARES).astype(np.int8),
            signup_day=signup_day,
            churn_day=signup_day + lifetime_days,
            purchase_rate=rng.gamma(_PURCHASE_RATE_SHAPE, 1.0, count),
            id_digits=id_digits,
        )

    @classmethod
    def continuing(
        cls, seed: int, rng: np.random.Generator, calendar: _Calendar, history: History
    ) -> _Customers:
        """The history's customers (C1 .. its last customer) as the existing ones, then the
        run's new customers numbered after them.

        The history says nothing about when its customers signed up, so they are taken as
        having signed up evenly over the year before the run, oldest number first. Country,
        purchase rate and lifetime come from ``_customer_traits``: the same customer number
        always gets the same ones for a seed, whichever run draws them.
        """
        known = history.last_customer
        newcomers_per_day = rng.binomial(calendar.order_counts, (1 - _GUEST_SHARE) * _FIRST_ORDER_SHARE)
        days_before_run = -np.ceil(365 * (known - np.arange(known)) / max(known, 1)).astype(np.int64)
        signup_day = np.concatenate([days_before_run, np.repeat(np.arange(len(newcomers_per_day)), newcomers_per_day)])
        count = len(signup_day)
        country, purchase_rate, lifetime_days = _customer_traits(seed, count)
        return cls(
            ids=_customer_ids(count, history.customer_digits),
            country=country,
            signup_day=signup_day,
            churn_day=signup_day + lifetime_days,
            purchase_rate=purchase_rate,
            id_digits=history.customer_digits,
        )

    def pick(self, day: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Customer (-1 for guests) and country of ``count`` orders placed on ``day``."""
        is_guest = rng.random(count) < _GUEST_SHARE
        guest_country = rng.choice(len(CURRENCY_BY_COUNTRY), count, p=_COUNTRY_SHARES)
        registered_orders = rng.permutation(np.flatnonzero(~is_guest))
        customer = np.full(count, -1, dtype=np.int64)

        first_newcomer, end_of_newcomers = np.searchsorted(self.signup_day, [day, day + 1])
        newcomers = np.arange(first_newcomer, min(end_of_newcomers, first_newcomer + registered_orders.size))
        customer[registered_orders[: newcomers.size]] = newcomers
        repeat_orders = registered_orders[newcomers.size :]
        returning = np.flatnonzero(self.churn_day[:first_newcomer] > day)
        if returning.size:  # otherwise (only in tiny runs) these orders stay guest checkouts
            chosen = _weighted_choice(rng, np.cumsum(self.purchase_rate[returning]), repeat_orders.size)
            customer[repeat_orders] = returning[chosen]

        country = np.where(customer >= 0, self.country[customer], guest_country).astype(np.int8)
        return customer, country


def _customer_traits(seed: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Country, purchase rate and lifetime in days of customers 1 .. ``count``, drawn per block
    of customer numbers from a stream of that block."""
    country, purchase_rate, lifetime_days = [np.empty(0, dtype=np.int8)], [np.empty(0)], [np.empty(0, dtype=np.int64)]
    size = _CUSTOMERS_PER_TRAITS_BLOCK
    for block in range(-(-count // size)):
        rng = _rng(seed, _CUSTOMER_TRAITS_STREAM, block)
        country.append(rng.choice(len(CURRENCY_BY_COUNTRY), size, p=_COUNTRY_SHARES).astype(np.int8))
        purchase_rate.append(rng.gamma(_PURCHASE_RATE_SHAPE, 1.0, size))
        lifetime_days.append(1 + rng.exponential(_MEAN_LIFETIME_DAYS, size).astype(np.int64))
    return (
        np.concatenate(country)[:count],
        np.concatenate(purchase_rate)[:count],
        np.concatenate(lifetime_days)[:count],
    )


def _customer_ids(count: int, digits: int) -> np.ndarray:
    """``C`` and the numbers 1 .. ``count`` zero-padded to ``digits``; a number with more
    digits keeps them all, so an id once written never changes its width."""
    parts = [np.empty(0, dtype="S1")]
    first, width = 1, digits
    while first <= count:
        last = min(count, 10**width - 1)
        parts.append(np.strings.add(b"C", _zero_padded(np.arange(first, last + 1), width)))
        first, width = last + 1, width + 1
    return np.concatenate(parts)


@dataclass(frozen=True)
class _Calendar:
    dates: list[date]
    epoch_days: np.ndarray  # days since 1970-01-01 of each day of the run
    order_counts: np.ndarray
    first_order_number: np.ndarray
    discount_share: np.ndarray

    @classmethod
    def create(
        cls, rng: np.random.Generator, orders: int, days: int, start: date, first_order: int = 1
    ) -> _Calendar:
        dates = [start + timedelta(days=day) for day in range(days)]
        promotions = [_promotion(day) for day in dates]
        demand = np.array(
            [
                _WEEKDAY_DEMAND[day.weekday()]
                * (1 + _YEARLY_AMPLITUDE * math.cos(2 * math.pi * (day.timetuple().tm_yday - 1) / 365.25))
                * boost
                for day, (boost, _) in zip(dates, promotions, strict=True)
            ]
        )
        demand *= _YEARLY_GROWTH ** (np.arange(days) / 365) * rng.lognormal(0.0, _DAILY_NOISE, days)
        order_counts = rng.multinomial(orders, demand / demand.sum())
        return cls(
            dates=dates,
            epoch_days=np.array([(day - _EPOCH).days for day in dates], dtype=np.int64),
            order_counts=order_counts,
            first_order_number=first_order + np.cumsum(order_counts) - order_counts,
            discount_share=np.array([share for _, share in promotions]),
        )


def _promotion(day: date) -> tuple[float, float]:
    """Demand multiplier and share of discounted lines on ``day``."""
    black_friday = _black_friday(day.year)
    days_after_black_friday = (day - black_friday).days
    if -4 <= days_after_black_friday <= 3:  # Black Week from Monday through Cyber Monday
        return {0: 3.0, 3: 2.4}.get(days_after_black_friday, 1.6), 0.45
    if day.month == 12 and day.day <= 20:  # Christmas shopping builds up
        return 1.3 + 0.3 * (day.day - 1) / 19, 0.20
    if day.month == 12 and day.day <= 23:  # too late for standard shipping
        return 1.3, 0.15
    if day.month == 12 and day.day <= 26:
        return 0.6, 0.10
    if day.month == 7 and 10 <= day.day <= 16:  # summer sale
        return 1.25, 0.40
    return 1.0, 0.10


def _black_friday(year: int) -> date:
    first_thursday = 1 + (3 - date(year, 11, 1).weekday()) % 7
    return date(year, 11, first_thursday + 21 + 1)


@dataclass(frozen=True)
class _Shop:
    catalog: _Catalog
    customers: _Customers
    calendar: _Calendar
    salt: tuple[int, ...]  # added to the spawn keys of the run's streams; () for a fresh shop

    @classmethod
    def create(cls, *, seed: int, orders: int, days: int, start: date, history: History | None = None) -> _Shop:
        # The catalog depends on the seed only: a continued shop sells the same products.
        catalog = _Catalog.create(_rng(seed, _CATALOG_STREAM))
        if history is None:
            calendar = _Calendar.create(_rng(seed, _CALENDAR_STREAM), orders, days, start)
            customers = _Customers.create(_rng(seed, _CUSTOMER_STREAM), calendar)
            return cls(catalog, customers, calendar, salt=())
        salt = ((start - _EPOCH).days, history.last_order, history.last_customer)
        calendar = _Calendar.create(
            _rng(seed, _CALENDAR_STREAM, *salt), orders, days, start, first_order=history.last_order + 1
        )
        customers = _Customers.continuing(seed, _rng(seed, _CUSTOMER_STREAM, *salt), calendar, history)
        return cls(catalog, customers, calendar, salt)


# --- order lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Lines:
    """Order lines as parallel arrays; rendered to text only when a file is written."""

    order_number: np.ndarray
    line_number: np.ndarray
    ordered_at: np.ndarray  # seconds since the epoch, UTC
    customer: np.ndarray  # -1 for guests
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray  # cents
    country: np.ndarray
    channel: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.order_number)

    def take(self, index: np.ndarray) -> _Lines:
        return _Lines(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[_Lines]) -> _Lines:
        if not parts:
            return _Lines(**{f.name: np.empty(0, dtype=np.int64) for f in fields(_Lines)})
        return _Lines(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Lines)})

    def sorted_for_file(self) -> _Lines:
        return self.take(np.lexsort((self.line_number, self.status, self.order_number, self.ordered_at)))


@dataclass(frozen=True)
class _DaySales:
    """The orders placed on one day and their sale lines."""

    day_start: int  # seconds since the epoch at midnight
    ordered_at: np.ndarray  # per order
    arrival_day: np.ndarray  # per order: the day of the file it arrives in
    lines_per_order: np.ndarray
    first_line: np.ndarray  # per order: index of its first line
    order_of_line: np.ndarray
    lines: _Lines

    def lines_of(self, orders: np.ndarray) -> np.ndarray:
        """Indices of every line of ``orders`` (sorted order indices)."""
        return np.flatnonzero(np.isin(self.order_of_line, orders))

    def one_line_of(self, orders: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.first_line[orders] + rng.integers(0, self.lines_per_order[orders])

    def per_line(self, orders: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Repeat one value per order for each line of the order, matching ``lines_of``."""
        return np.repeat(values, self.lines_per_order[orders])


def _simulate_day(shop: _Shop, day: int, rng: np.random.Generator) -> tuple[_Lines, np.ndarray]:
    """Lines of the orders placed on ``day`` and of their later events, with the day
    of the file each line arrives in."""
    order_count = int(shop.calendar.order_counts[day])
    if order_count == 0:
        return _Lines.concat([]), np.empty(0, dtype=np.int64)
    sales = _sell(shop, day, order_count, rng)

    # disjoint events per order, drawn from one uniform number
    event = rng.random(order_count)
    cancel_until = _CANCEL_SHARE
    return_until = cancel_until + _RETURN_SHARE
    resend_until = return_until + _RESEND_SHARE
    parts = [
        (sales.lines, sales.arrival_day[sales.order_of_line]),
        _cancellations(sales, np.flatnonzero(event < cancel_until), rng, shop.calendar.epoch_days[0]),
        _returns(sales, day, np.flatnonzero((event >= cancel_until) & (event < return_until)), rng),
        _resends(sales, np.flatnonzero((event >= return_until) & (event < resend_until)), rng),
    ]
    return _Lines.concat([lines for lines, _ in parts]), np.concatenate([arrival for _, arrival in parts])


def _sell(shop: _Shop, day: int, order_count: int, rng: np.random.Generator) -> _DaySales:
    calendar, catalog = shop.calendar, shop.catalog
    day_start = int(calendar.epoch_days[day]) * _SECONDS_PER_DAY

    # orders, numbered in the order they were placed
    order_number = calendar.first_order_number[day] + np.arange(order_count)
    ordered_at = day_start + np.sort(_seconds_into_day(rng, order_count))
    customer, country = shop.customers.pick(day, order_count, rng)
    channel = rng.choice(len(CHANNELS), order_count, p=_CHANNEL_SHARES).astype(np.int8)
    lines_per_order = 1 + rng.choice(len(_LINES_PER_ORDER_SHARES), order_count, p=_LINES_PER_ORDER_SHARES)
    # a late order only comes with the next day's file (never past the last day)
    is_last_day = day == len(calendar.dates) - 1
    arrival_day = day + ((rng.random(order_count) < _LATE_SHARE) & (not is_last_day))

    # their lines
    order_of_line = np.repeat(np.arange(order_count), lines_per_order)
    first_line = np.cumsum(lines_per_order) - lines_per_order
    line_count = len(order_of_line)
    popular_products = _weighted_choice(rng, catalog.popularity_cdf, line_count)
    product = _distinct_products(order_of_line, popular_products, rng)
    unit_price = catalog.price_cents[product, country[order_of_line]]
    discounted = rng.random(line_count) < calendar.discount_share[day]
    percent_off = rng.integers(10, 31, line_count)
    unit_price = np.where(discounted, (unit_price * (100 - percent_off) + 50) // 100, unit_price)
    unit_price = np.where(rng.random(line_count) < _FREE_GIFT_SHARE, 0, unit_price)
    lines = _Lines(
        order_number=order_number[order_of_line],
        line_number=np.arange(line_count) - first_line[order_of_line] + 1,
        ordered_at=ordered_at[order_of_line],
        customer=customer[order_of_line],
        product=product,
        quantity=np.minimum(rng.geometric(_QUANTITY_ONE_SHARE, line_count), _MAX_QUANTITY),
        unit_price=unit_price,
        country=country[order_of_line],
        channel=channel[order_of_line],
        status=np.full(line_count, STATUSES.index("completed"), dtype=np.int8),
    )
    return _DaySales(day_start, ordered_at, arrival_day, lines_per_order, first_line, order_of_line, lines)


def _cancellations(
    sales: _DaySales, orders: np.ndarray, rng: np.random.Generator, first_epoch_day: int
) -> tuple[_Lines, np.ndarray]:
    """Every line reversed, some minutes up to the end of the next day after the order."""
    lines = sales.lines_of(orders)
    earliest = sales.ordered_at[orders] + _MIN_CANCEL_DELAY_SECONDS
    end_of_next_day = sales.day_start + 2 * _SECONDS_PER_DAY
    cancelled_at = earliest + (rng.random(orders.size) * (end_of_next_day - earliest)).astype(np.int64)
    cancellations = replace(
        sales.lines.take(lines),
        ordered_at=sales.per_line(orders, cancelled_at),
        quantity=-sales.lines.quantity[lines],
        status=np.full(lines.size, STATUSES.index("cancelled"), dtype=np.int8),
    )
    # never in an earlier file than the (possibly late) order itself
    arrival_day = np.maximum(cancelled_at // _SECONDS_PER_DAY - first_epoch_day, sales.arrival_day[orders])
    return cancellations, sales.per_line(orders, arrival_day)


def _returns(
    sales: _DaySales, day: int, orders: np.ndarray, rng: np.random.Generator
) -> tuple[_Lines, np.ndarray]:
    """Part of one line sent back 1-30 days after the order."""
    lines = sales.one_line_of(orders, rng)
    days_later = rng.integers(1, _MAX_RETURN_DAYS + 1, orders.size)
    returns = replace(
        sales.lines.take(lines),
        ordered_at=sales.day_start + days_later * _SECONDS_PER_DAY + _seconds_into_day(rng, orders.size),
        quantity=-rng.integers(1, sales.lines.quantity[lines] + 1),
        status=np.full(orders.size, STATUSES.index("returned"), dtype=np.int8),
    )
    return returns, day + days_later


def _resends(sales: _DaySales, orders: np.ndarray, rng: np.random.Generator) -> tuple[_Lines, np.ndarray]:
    """Every line of the order again, 1-7 files later, one with a corrected quantity or price."""
    lines = sales.lines_of(orders)
    corrected = np.searchsorted(lines, sales.one_line_of(orders, rng))  # position within ``lines``
    resent = sales.lines.take(lines)
    fix_quantity = (rng.random(orders.size) < 0.5) | (resent.unit_price[corrected] == 0)
    quantity, unit_price = resent.quantity.copy(), resent.unit_price.copy()
    quantity[corrected[fix_quantity]] += 1
    price_fixed = corrected[~fix_quantity]
    unit_price[price_fixed] = (unit_price[price_fixed] * 9 + 5) // 10  # 10% off as a goodwill gesture
    arrival_day = sales.arrival_day[orders] + rng.integers(1, _MAX_RESEND_DAYS + 1, orders.size)
    return replace(resent, quantity=quantity, unit_price=unit_price), sales.per_line(orders, arrival_day)


def _seconds_into_day(rng: np.random.Generator, count: int) -> np.ndarray:
    hour = rng.choice(24, count, p=_HOURLY_SHARES)
    return hour * 3600 + rng.integers(0, 3600, count)


def _weighted_choice(rng: np.random.Generator, cdf: np.ndarray, count: int) -> np.ndarray:
    """Indices drawn with probabilities given by a cumulative weight array."""
    chosen = np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right")
    return np.minimum(chosen, len(cdf) - 1)  # rounding can land exactly on the total


def _distinct_products(
    order_of_line: np.ndarray, product: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Redraw products that already appear earlier in the same order."""
    product = product.copy()
    max_lines = len(_LINES_PER_ORDER_SHARES)
    while True:
        repeated = np.zeros(len(product), dtype=bool)
        for distance in range(1, max_lines):
            same = (order_of_line[distance:] == order_of_line[:-distance]) & (
                product[distance:] == product[:-distance]
            )
            repeated[distance:] |= same
        if not repeated.any():
            return product
        product[repeated] = rng.integers(0, _PRODUCT_COUNT, int(repeated.sum()))


def _split_by_day(lines: _Lines, day: np.ndarray) -> Iterator[tuple[int, _Lines]]:
    order = np.argsort(day, kind="stable")
    days, starts = np.unique(day[order], return_index=True)
    for target_day, index in zip(days, np.split(order, starts[1:]), strict=True):
        yield int(target_day), lines.take(index)


# --- defects ----------------------------------------------------------------------------


def _add_defects(
    rows: _Lines, rate: float, rng: np.random.Generator, *, first_kind: int, minimum: int
) -> tuple[_Lines, np.ndarray]:
    """Insert bad copies of random rows; returns the rows and each row's defect kind
    (an index into DEFECT_KINDS, -1 for clean rows)."""
    clean_count = len(rows)
    if clean_count == 0:
        return rows, np.empty(0, dtype=np.int8)
    bad_count = max(int(rng.binomial(clean_count, rate)), minimum)
    kinds = ((first_kind + np.arange(bad_count)) % len(DEFECT_KINDS)).astype(np.int8)
    bad = rows.take(rng.integers(0, clean_count, bad_count))

    # defects expressible as values; the text ones are applied when rendering
    kind_name = np.array(DEFECT_KINDS)[kinds]
    negative_price = -np.where(bad.unit_price > 0, bad.unit_price, 100)  # a free gift becomes -1.00
    bad = replace(
        bad,
        quantity=np.where(kind_name == "zero_quantity", 0, bad.quantity),
        unit_price=np.where(kind_name == "negative_unit_price", negative_price, bad.unit_price),
        ordered_at=np.where(
            kind_name == "future_timestamp", _same_moment_in_2099(bad.ordered_at), bad.ordered_at
        ),
    )

    # bad row i goes before clean row insert_before[i]
    insert_before = rng.integers(0, clean_count + 1, bad_count)
    order = np.argsort(np.concatenate([2 * np.arange(clean_count) + 1, 2 * insert_before]), kind="stable")
    all_kinds = np.concatenate([np.full(clean_count, -1, dtype=np.int8), kinds])
    return _Lines.concat([rows, bad]).take(order), all_kinds[order]


def _same_moment_in_2099(epoch_seconds: np.ndarray) -> np.ndarray:
    moment = epoch_seconds.astype("datetime64[s]")
    into_year = moment - moment.astype("datetime64[Y]").astype("datetime64[s]")
    in_2099 = np.datetime64("2099-01-01T00:00:00") + into_year
    return np.minimum(in_2099, np.datetime64("2099-12-31T23:59:59")).astype(np.int64)  # 2099 has no Feb 29


def _text_defect_masks(defect_kinds: np.ndarray) -> Iterator[tuple[str, np.ndarray, str]]:
    for kind, (column, text) in _TEXT_DEFECTS.items():
        mask = defect_kinds == DEFECT_KINDS.index(kind)
        if mask.any():
            yield column, mask, text


def _plan_broken_files(
    seed: int, calendar: _Calendar, file_format: str, salt: tuple[int, ...] = ()
) -> dict[int, list[str]]:
    """Day of each broken file; only days with orders, so that there is content to break."""
    days_with_orders = np.flatnonzero(calendar.order_counts > 0)
    if days_with_orders.size == 0:
        return {}
    kinds = BROKEN_FILE_KINDS[file_format]
    rng = _rng(seed, _BROKEN_FILE_STREAM, *salt)
    chosen = rng.choice(days_with_orders, len(kinds), replace=days_with_orders.size < len(kinds))
    plan: dict[int, list[str]] = defaultdict(list)
    for day, kind in zip(chosen, kinds, strict=True):
        plan[int(day)].append(kind)
    return plan


# --- rendering --------------------------------------------------------------------------


def _text_columns(rows: _Lines, shop: _Shop, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Raw (unescaped) UTF-8 values of the requested contract columns."""
    catalog, customers = shop.catalog, shop.customers
    renderers = {
        "order_id": lambda: np.strings.add(b"ORD-", _zero_padded(rows.order_number, 10)),
        "ordered_at": lambda: _timestamp_text(rows.ordered_at),
        "customer_id": lambda: np.where(rows.customer >= 0, customers.ids[rows.customer], b""),
        "product_id": lambda: catalog.product_ids[rows.product],
        "product_name": lambda: catalog.names[rows.product],
        "category": lambda: catalog.categories[rows.product],
        "quantity": lambda: _integer_text(rows.quantity),
        "unit_price": lambda: _cents_text(rows.unit_price),
        "currency": lambda: _CURRENCY_TEXT[rows.country],
        "country": lambda: _COUNTRY_TEXT[rows.country],
        "status": lambda: _STATUS_TEXT[rows.status],
        "channel": lambda: _CHANNEL_TEXT[rows.channel],
    }
    return {name: renderers[name]() for name in names}


def _zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers below 10**10 as zero-padded decimal bytes of ``width``."""
    high, low = np.divmod(numbers, 100_000)
    ten_digits = np.strings.add(_PADDED_5_DIGITS[high], _PADDED_5_DIGITS[low])
    if width >= 10:
        return ten_digits
    digits = ten_digits.view(np.uint8).reshape(len(numbers), 10)[:, 10 - width :]
    return np.ascontiguousarray(digits).view(f"S{width}").ravel()


def _integer_text(values: np.ndarray) -> np.ndarray:
    return np.strings.add(np.where(values < 0, b"-", b""), _PLAIN_INTEGERS[np.abs(values)])


def _cents_text(cents: np.ndarray) -> np.ndarray:
    whole, fraction = np.divmod(np.abs(cents), 100)
    text = np.strings.add(np.where(cents < 0, b"-", b""), _PLAIN_INTEGERS[whole])
    return np.strings.add(np.strings.add(text, b"."), _PADDED_2_DIGITS[fraction])


def _timestamp_text(epoch_seconds: np.ndarray) -> np.ndarray:
    day, second = np.divmod(epoch_seconds, _SECONDS_PER_DAY)
    unique_days, day_position = np.unique(day, return_inverse=True)
    dates = np.datetime_as_string(unique_days.astype("datetime64[D]")).astype("S")
    return np.strings.add(dates[day_position], _TIME_OF_DAY[second])


def _with_value(values: np.ndarray, mask: np.ndarray, text: str) -> np.ndarray:
    encoded = text.encode()
    patched = values.astype(f"S{max(values.itemsize, len(encoded), 1)}")
    patched[mask] = encoded
    return patched


def _rows_with_bytes(values: np.ndarray, byte_lookup: np.ndarray) -> np.ndarray:
    """Rows of a bytes array holding any byte marked in ``byte_lookup``."""
    return byte_lookup[values.view(np.uint8).reshape(len(values), values.itemsize)].any(axis=1)


def _escaped(values: np.ndarray, needs_escape: np.ndarray, escape: Callable[[str], str]) -> np.ndarray:
    """``values`` with ``escape`` applied to the rows in ``needs_escape`` (once per
    distinct value, as few rows ever need it)."""
    if not needs_escape.any():
        return values
    distinct, position = np.unique(values[needs_escape], return_inverse=True)
    replacements = np.array([escape(value.decode()).encode() for value in distinct])
    escaped = values.astype(f"S{max(values.itemsize, replacements.itemsize)}")
    escaped[needs_escape] = replacements[position]
    return escaped


def _csv_quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _json_string_content(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _json_value(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _csv_lines(columns: dict[str, np.ndarray]) -> np.ndarray:
    pieces: list[bytes | np.ndarray] = []
    for position, values in enumerate(columns.values()):
        if position:
            pieces.append(b",")
        pieces.append(_escaped(values, _rows_with_bytes(values, _NEEDS_CSV_QUOTES), _csv_quoted))
    pieces.append(b"\n")
    return _concatenated(pieces)


def _jsonl_lines(columns: dict[str, np.ndarray]) -> np.ndarray:
    """One JSON object per row; every value is a string except the quantity, which is
    a number unless a defect made it text."""
    pieces: list[bytes | np.ndarray] = []
    literal = "{"
    for position, (name, values) in enumerate(columns.items()):
        literal += ("," if position else "") + json.dumps(name) + ":"
        if name == "quantity":
            not_integer = _rows_with_bytes(values, _NOT_IN_JSON_INTEGER) | (values == b"")
            pieces += [literal.encode(), _escaped(values, not_integer, _json_value)]
            literal = ""
        else:
            needs_escape = _rows_with_bytes(values, _NEEDS_JSON_ESCAPE)
            pieces += [(literal + '"').encode(), _escaped(values, needs_escape, _json_string_content)]
            literal = '"'
    pieces.append((literal + "}\n").encode())
    return _concatenated(pieces)


def _text_payload(columns: dict[str, np.ndarray], file_format: str) -> Iterator[bytes]:
    """The file's bytes in chunks, so memory does not grow with a day's size."""
    if file_format == "csv":
        yield (",".join(columns) + "\n").encode()
    line_count = len(next(iter(columns.values())))
    render = _csv_lines if file_format == "csv" else _jsonl_lines
    for begin in range(0, line_count, _TEXT_CHUNK_LINES):
        chunk = {name: values[begin : begin + _TEXT_CHUNK_LINES] for name, values in columns.items()}
        yield b"".join(render(chunk).tolist())


def _arrow_table(rows: _Lines, shop: _Shop, defect_kinds: np.ndarray, names: tuple[str, ...]) -> pa.Table:
    text_names = tuple(name for name in names if name not in _PARQUET_TYPED_COLUMNS)
    text = _text_columns(rows, shop, text_names)
    null = {name: np.zeros(len(rows), dtype=bool) for name in _PARQUET_TYPED_COLUMNS}
    for column, mask, value in _text_defect_masks(defect_kinds):
        if column in null:  # typed columns cannot hold text: the value is lost
            null[column] |= mask
        elif column in text:
            text[column] = _with_value(text[column], mask, value)

    arrays = {}
    for name in names:
        if name == "ordered_at":
            microseconds = rows.ordered_at * 1_000_000
            arrays[name] = pa.array(microseconds, type=pa.timestamp("us", tz="UTC"), mask=null[name])
        elif name == "quantity":
            arrays[name] = pa.array(rows.quantity.astype(np.int32), mask=null[name])
        elif name == "unit_price":
            arrays[name] = _decimal_array(rows.unit_price, null[name])
        else:
            arrays[name] = pa.array(text[name]).cast(pa.string())
    return pa.table(arrays)


def _decimal_array(cents: np.ndarray, null: np.ndarray) -> pa.Array:
    """decimal128(12, 2) straight from integer cents: the unscaled value is the
    little-endian 128-bit two's complement of the cents."""
    unscaled = np.empty((len(cents), 2), dtype=np.int64)
    unscaled[:, 0] = cents
    unscaled[:, 1] = np.where(cents < 0, -1, 0)
    validity = pa.array(cents, mask=null).buffers()[0]
    buffers = [validity, pa.py_buffer(unscaled.tobytes())]
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), buffers, null_count=int(null.sum()))


# --- files -----------------------------------------------------------------------------


def _file_path(out_dir: Path, day: date, file_format: str, compress: bool, broken: str | None = None) -> Path:
    suffix = f"_broken-{broken}" if broken else ""
    extension = file_format + (".gz" if compress and file_format != "parquet" else "")
    return out_dir / f"orders_{day.isoformat()}{suffix}.{extension}"


def _write_bytes(path: Path, chunks: Iterable[bytes]) -> None:
    with open(path, "wb") as raw:
        if path.suffix == ".gz":
            # mtime=0 and no file name in the header keep the output byte-identical
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped:
                for chunk in chunks:
                    zipped.write(chunk)
        else:
            for chunk in chunks:
                raw.write(chunk)


def _write_day_file(
    out_dir: Path,
    shop: _Shop,
    day: int,
    rows: _Lines,
    defect_kinds: np.ndarray,
    file_format: str,
    compress: bool,
) -> GeneratedFile:
    path = _file_path(out_dir, shop.calendar.dates[day], file_format, compress)
    if file_format == "parquet":
        pq.write_table(_arrow_table(rows, shop, defect_kinds, CONTRACT_COLUMNS), path)
    else:
        columns = _text_columns(rows, shop, CONTRACT_COLUMNS)
        for column, mask, value in _text_defect_masks(defect_kinds):
            columns[column] = _with_value(columns[column], mask, value)
        _write_bytes(path, _text_payload(columns, file_format))
    return GeneratedFile(path=path, lines=len(rows), bad_lines=int((defect_kinds >= 0).sum()))


def _write_broken_file(
    out_dir: Path, shop: _Shop, day: int, sample: _Lines, kind: str, file_format: str, compress: bool
) -> GeneratedFile:
    path = _file_path(out_dir, shop.calendar.dates[day], file_format, compress, broken=kind)
    if kind == "empty":
        path.write_bytes(b"")  # zero bytes, not even a gzip header
        return GeneratedFile(path=path, lines=0, broken=kind)

    if kind == "invalid-utf8":
        # Windows-1252 only differs from UTF-8 for non-ASCII text, so show an accented product
        accented_first = np.concatenate([[shop.catalog.accented_product], sample.product[1:]])
        sample = replace(sample, product=accented_first)
    names = CONTRACT_COLUMNS
    if kind == "missing-column":
        names = tuple(name for name in CONTRACT_COLUMNS if name != _MISSING_COLUMN)
    no_defects = np.full(len(sample), -1, dtype=np.int8)
    if file_format == "parquet":
        buffer = io.BytesIO()
        pq.write_table(_arrow_table(sample, shop, no_defects, names), buffer)
        payload = buffer.getvalue()
        if kind == "truncated":  # the footer with the schema is lost
            payload = payload[: len(payload) // 2]
        path.write_bytes(payload)
    else:
        payload = b"".join(_text_payload(_text_columns(sample, shop, names), file_format))
        if kind == "invalid-utf8":  # as re-saved by a legacy Windows tool
            payload = payload.decode("utf-8").encode("cp1252", errors="replace")
        _write_bytes(path, [payload])
    return GeneratedFile(path=path, lines=len(sample), bad_lines=len(sample), broken=kind)
