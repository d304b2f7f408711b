"""The demo shop simulator: products, customers, the order calendar and each day's order lines
(sales, returns, cancellations, late and re-sent orders), and bad copies of lines with defects.

It holds the lines as numpy columns and writes nothing: ingestion/demo_files.py renders them as a
shop's export files, ingestion/demo_data.py runs the two day by day. Every random draw comes from a
``numpy.random.PCG64`` stream derived from the seed (``random_stream``), so a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta

import numpy as np

# The raw statuses belong to the input contract (ingestion/CONTRACT.md); the shop writes them.
from ingestion.sources import STATUSES

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

# Independent random streams: the catalog depends on the seed only, so a shop keeps
# its products whatever the size of the run; each day and each day's defects get
# their own stream so a day's content never depends on how much was drawn before.
_CATALOG_STREAM, _CUSTOMER_STREAM, _CALENDAR_STREAM = 0, 1, 2
DAY_STREAM, DEFECT_STREAM, BROKEN_FILE_STREAM = 3, 4, 5
# A run that continues a history draws its customers' habits per block of customer numbers, so
# that customer C000123 keeps the same country and habits in every later run.
_CUSTOMER_TRAITS_STREAM, _CUSTOMERS_PER_TRAITS_BLOCK = 6, 4096

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)

# --- shop behaviour -----------------------------------------------------------------
_COUNTRY_SHARES = np.array([share for _, _, share in _COUNTRIES])
# Round units per EUR (near the ECB's rates of 2024-2025) that only set each country's list prices from
# the EUR one: a shop's local price list stays put while rates move, and the marts convert every line at
# the ECB rate of its own day (ingestion/exchange_rates.py), so amounts in EUR vary a little by day.
_UNITS_PER_EUR = {"EUR": 1.0, "GBP": 0.85, "USD": 1.08, "SEK": 11.2, "DKK": 7.46, "CHF": 0.95}
_CHANNEL_SHARES = np.array([0.55, 0.35, 0.10])
_LINES_PER_ORDER_SHARES = np.array([0.45, 0.28, 0.14, 0.08, 0.05])  # 1..5 lines
_HOURLY_SHARES = np.array(
    [0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.6, 1.0, 1.3, 1.5, 1.6, 1.7, 1.8, 1.7, 1.6, 1.6, 1.7, 1.9, 2.2, 2.5, 2.6, 2.3, 1.7, 1.1]
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
    (
        "Electronics",
        0.16,
        (15, 600),
        (
            "Wireless Headphones",
            "Bluetooth Speaker",
            "Smartwatch",
            "USB-C Charger, 65W",
            '27" Monitor',
            "HD Webcam",
            "Power Bank",
            "E-Reader",
        ),
    ),
    (
        "Fashion",
        0.16,
        (12, 160),
        (
            "T-Shirt",
            "Hoodie",
            "Slim Jeans",
            "Sneakers",
            "Rain Jacket",
            "Wool Scarf",
            "Leather Belt",
            "Socks, 3-Pack",
        ),
    ),
    (
        "Home & Kitchen",
        0.14,
        (6, 220),
        (
            "Chef's Knife",
            "Espresso Cups, Set of 4",
            "Cast Iron Pan",
            "Linen Tea Towel",
            "Storage Jar",
            "Table Lamp",
            "Scented Candle",
        ),
    ),
    (
        "Beauty",
        0.10,
        (4, 70),
        (
            "Face Cream",
            "Shampoo",
            "Lip Balm",
            "Eau de Parfum",
            "Hand Soap",
            "Sheet Mask, 5-Pack",
        ),
    ),
    (
        "Sports & Outdoors",
        0.12,
        (8, 350),
        (
            "Yoga Mat",
            "Running Shorts",
            "Water Bottle",
            "Tent, 2 Person",
            "Dumbbell Set",
            "Bike Light",
        ),
    ),
    (
        "Books",
        0.12,
        (5, 40),
        (
            "Cookbook",
            "Travel Guide",
            "Crime Novel",
            "Dotted Notebook",
            "Children's Picture Book",
            'Novel "The Quiet Harbour"',
        ),
    ),
    (
        "Toys & Games",
        0.10,
        (6, 110),
        (
            "Board Game",
            "Puzzle, 1000 Pieces",
            "Building Blocks",
            "Plush Bear",
            "Card Game",
            "Wooden Train",
        ),
    ),
    (
        "Grocery",
        0.10,
        (2, 30),
        (
            "Coffee Beans, 1 kg",
            "Green Tea",
            "Dark Chocolate 70%",
            "Olive Oil",
            "Granola",
            "Wildflower Honey",
        ),
    ),
)
# Accented brands make Windows-1252 exports differ from UTF-8 (see the broken files).
_BRANDS = (
    "Nordvik",
    "Café Lumière",
    "Atlas",
    "Grünwald",
    "Bluebird",
    "Måne",
    "Terra",
    "Pixelwerk",
    "Sol & Sal",
    "Evergreen",
    "Kiri",
    "Hafen",
)
_VARIANTS = (
    "",
    "",
    "",
    " Classic",
    " Pro",
    " Mini",
    " XL",
    " Eco",
    ' "Limited Edition"',
    ", Black",
    ", White",
    " 2.0",
)
CATEGORY_NAMES = tuple(name for name, _, _, _ in _CATEGORIES)
_PRODUCT_COUNT = 320
_ZIPF_EXPONENT = 1.1
_PRICE_ENDINGS_CENTS = np.array([1, 5, 10])  # x.99, x.95, x.90


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


# --- identifiers as bytes (customer and order numbers) ------------------------------


def digit_table(width: int) -> np.ndarray:
    """Every integer below 10**width as zero-padded decimal bytes."""
    digits = np.arange(10**width)[:, None] // 10 ** np.arange(width - 1, -1, -1) % 10 + ord("0")
    return digits.astype(np.uint8).view(f"S{width}").ravel()


_PADDED_5_DIGITS = digit_table(5)


def zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers below 10**10 as zero-padded decimal bytes of ``width``."""
    high, low = np.divmod(numbers, 100_000)
    ten_digits = np.strings.add(_PADDED_5_DIGITS[high], _PADDED_5_DIGITS[low])
    if width >= 10:
        return ten_digits
    digits = ten_digits.view(np.uint8).reshape(len(numbers), 10)[:, 10 - width :]
    return np.ascontiguousarray(digits).view(f"S{width}").ravel()


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=stream)))


# --- the shop: products, customers, order calendar ---------------------------------


@dataclass(frozen=True)
class _Catalog:
    product_ids: np.ndarray  # bytes
    names: np.ndarray  # UTF-8 bytes
    categories: np.ndarray  # bytes
    category_index: np.ndarray  # per product, an index into CATEGORY_NAMES
    price_cents: np.ndarray  # list price in the country's currency, shape (products, countries)
    popularity_cdf: np.ndarray
    accented_product: int  # a product whose name is not ASCII

    @classmethod
    def create(cls, rng: np.random.Generator) -> _Catalog:
        category_of_product = rng.choice(len(_CATEGORIES), _PRODUCT_COUNT, p=[share for _, share, _, _ in _CATEGORIES])
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
            category_index=category_of_product,
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
    def create(cls, rng: np.random.Generator, calendar: Calendar) -> _Customers:
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
            ids=np.strings.add(b"C", zero_padded(np.arange(1, count + 1), id_digits)),
            country=rng.choice(len(CURRENCY_BY_COUNTRY), count, p=_COUNTRY_SHARES).astype(np.int8),
            signup_day=signup_day,
            churn_day=signup_day + lifetime_days,
            purchase_rate=rng.gamma(_PURCHASE_RATE_SHAPE, 1.0, count),
            id_digits=id_digits,
        )

    @classmethod
    def continuing(cls, seed: int, rng: np.random.Generator, calendar: Calendar, history: History) -> _Customers:
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
        rng = random_stream(seed, _CUSTOMER_TRAITS_STREAM, block)
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
        parts.append(np.strings.add(b"C", zero_padded(np.arange(first, last + 1), width)))
        first, width = last + 1, width + 1
    return np.concatenate(parts)


@dataclass(frozen=True)
class Calendar:
    dates: list[date]
    epoch_days: np.ndarray  # days since 1970-01-01 of each day of the run
    order_counts: np.ndarray
    first_order_number: np.ndarray
    discount_share: np.ndarray

    @classmethod
    def create(cls, rng: np.random.Generator, orders: int, days: int, start: date, first_order: int = 1) -> Calendar:
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
class Shop:
    catalog: _Catalog
    customers: _Customers
    calendar: Calendar
    salt: tuple[int, ...]  # added to the spawn keys of the run's streams; () for a fresh shop

    @classmethod
    def create(cls, *, seed: int, orders: int, days: int, start: date, history: History | None = None) -> Shop:
        # The catalog depends on the seed only: a continued shop sells the same products.
        catalog = _Catalog.create(random_stream(seed, _CATALOG_STREAM))
        if history is None:
            calendar = Calendar.create(random_stream(seed, _CALENDAR_STREAM), orders, days, start)
            customers = _Customers.create(random_stream(seed, _CUSTOMER_STREAM), calendar)
            return cls(catalog, customers, calendar, salt=())
        salt = ((start - _EPOCH).days, history.last_order, history.last_customer)
        calendar = Calendar.create(
            random_stream(seed, _CALENDAR_STREAM, *salt), orders, days, start, first_order=history.last_order + 1
        )
        customers = _Customers.continuing(seed, random_stream(seed, _CUSTOMER_STREAM, *salt), calendar, history)
        return cls(catalog, customers, calendar, salt)


# --- order lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLines:
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

    def take(self, index: np.ndarray) -> OrderLines:
        return OrderLines(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[OrderLines]) -> OrderLines:
        if not parts:
            return OrderLines(**{f.name: np.empty(0, dtype=np.int64) for f in fields(OrderLines)})
        return OrderLines(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(OrderLines)})

    def sorted_for_file(self) -> OrderLines:
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
    lines: OrderLines

    def lines_of(self, orders: np.ndarray) -> np.ndarray:
        """Indices of every line of ``orders`` (sorted order indices)."""
        return np.flatnonzero(np.isin(self.order_of_line, orders))

    def one_line_of(self, orders: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.first_line[orders] + rng.integers(0, self.lines_per_order[orders])

    def per_line(self, orders: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Repeat one value per order for each line of the order, matching ``lines_of``."""
        return np.repeat(values, self.lines_per_order[orders])


def simulate_day(shop: Shop, day: int, rng: np.random.Generator) -> tuple[OrderLines, np.ndarray]:
    """Lines of the orders placed on ``day`` and of their later events, with the day
    of the file each line arrives in."""
    order_count = int(shop.calendar.order_counts[day])
    if order_count == 0:
        return OrderLines.concat([]), np.empty(0, dtype=np.int64)
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
    return OrderLines.concat([lines for lines, _ in parts]), np.concatenate([arrival for _, arrival in parts])


def _sell(shop: Shop, day: int, order_count: int, rng: np.random.Generator) -> _DaySales:
    calendar, catalog = shop.calendar, shop.catalog
    day_start = int(calendar.epoch_days[day]) * SECONDS_PER_DAY

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
    lines = OrderLines(
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
) -> tuple[OrderLines, np.ndarray]:
    """Every line reversed, some minutes up to the end of the next day after the order."""
    lines = sales.lines_of(orders)
    earliest = sales.ordered_at[orders] + _MIN_CANCEL_DELAY_SECONDS
    end_of_next_day = sales.day_start + 2 * SECONDS_PER_DAY
    cancelled_at = earliest + (rng.random(orders.size) * (end_of_next_day - earliest)).astype(np.int64)
    cancellations = replace(
        sales.lines.take(lines),
        ordered_at=sales.per_line(orders, cancelled_at),
        quantity=-sales.lines.quantity[lines],
        status=np.full(lines.size, STATUSES.index("cancelled"), dtype=np.int8),
    )
    # never in an earlier file than the (possibly late) order itself
    arrival_day = np.maximum(cancelled_at // SECONDS_PER_DAY - first_epoch_day, sales.arrival_day[orders])
    return cancellations, sales.per_line(orders, arrival_day)


def _returns(sales: _DaySales, day: int, orders: np.ndarray, rng: np.random.Generator) -> tuple[OrderLines, np.ndarray]:
    """Part of one line sent back 1-30 days after the order."""
    lines = sales.one_line_of(orders, rng)
    days_later = rng.integers(1, _MAX_RETURN_DAYS + 1, orders.size)
    returns = replace(
        sales.lines.take(lines),
        ordered_at=sales.day_start + days_later * SECONDS_PER_DAY + _seconds_into_day(rng, orders.size),
        quantity=-rng.integers(1, sales.lines.quantity[lines] + 1),
        status=np.full(orders.size, STATUSES.index("returned"), dtype=np.int8),
    )
    return returns, day + days_later


def _resends(sales: _DaySales, orders: np.ndarray, rng: np.random.Generator) -> tuple[OrderLines, np.ndarray]:
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


def _distinct_products(order_of_line: np.ndarray, product: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Redraw products that already appear earlier in the same order."""
    product = product.copy()
    max_lines = len(_LINES_PER_ORDER_SHARES)
    while True:
        repeated = np.zeros(len(product), dtype=bool)
        for distance in range(1, max_lines):
            same = (order_of_line[distance:] == order_of_line[:-distance]) & (product[distance:] == product[:-distance])
            repeated[distance:] |= same
        if not repeated.any():
            return product
        product[repeated] = rng.integers(0, _PRODUCT_COUNT, int(repeated.sum()))


def split_by_day(lines: OrderLines, day: np.ndarray) -> Iterator[tuple[int, OrderLines]]:
    if len(day) == 0:  # np.split would still give one (empty) part
        return
    order = np.argsort(day, kind="stable")
    days, starts = np.unique(day[order], return_index=True)
    for target_day, index in zip(days, np.split(order, starts[1:]), strict=True):
        yield int(target_day), lines.take(index)


# --- defects ----------------------------------------------------------------------------


def add_defects(
    rows: OrderLines, rate: float, rng: np.random.Generator, *, first_kind: int, minimum: int
) -> tuple[OrderLines, np.ndarray]:
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
        ordered_at=np.where(kind_name == "future_timestamp", _same_moment_in_2099(bad.ordered_at), bad.ordered_at),
    )

    # bad row i goes before clean row insert_before[i]
    insert_before = rng.integers(0, clean_count + 1, bad_count)
    order = np.argsort(np.concatenate([2 * np.arange(clean_count) + 1, 2 * insert_before]), kind="stable")
    all_kinds = np.concatenate([np.full(clean_count, -1, dtype=np.int8), kinds])
    return OrderLines.concat([rows, bad]).take(order), all_kinds[order]


def _same_moment_in_2099(epoch_seconds: np.ndarray) -> np.ndarray:
    moment = epoch_seconds.astype("datetime64[s]")
    into_year = moment - moment.astype("datetime64[Y]").astype("datetime64[s]")
    in_2099 = np.datetime64("2099-01-01T00:00:00") + into_year
    return np.minimum(in_2099, np.datetime64("2099-12-31T23:59:59")).astype(np.int64)  # 2099 has no Feb 29
