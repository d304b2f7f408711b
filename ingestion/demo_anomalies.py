"""Anomalies injected into the demo data, and the ground truth that says where they are, so that
anomaly detection can be measured against it (``ecom generate --anomalies``).

Kinds (``KINDS``), each on whole days of the run:

* ``spike`` / ``drop``: on one day, the orders of one segment (the shop, a category or a country)
  go up / down by ``k`` times the segment's usual spread (``usual_spread``), ``k`` = 3 by default;
* ``outage``: a category sells nothing for ``OUTAGE_DAYS`` consecutive days;
* ``lost_day``: the shop has no orders on a day and the day's file never arrives (an export that was
  lost); the lines that file would also have carried (late orders of the day before, returns and
  cancellations of earlier orders) come with the next day's file, so no other day loses orders.

What "the orders of a segment" are: the orders *placed* on the day (their sale lines' day), for a
country the orders from it, for a category the orders with a line of it. A spike adds orders drawn
like the day's own from a stream of their own (a category spike keeps only their lines of that
category); a drop removes random orders of the segment, with all their lines and later events
(a category drop removes only the lines of that category, so other categories keep their orders).
Orders placed on the other days are exactly those of the same run without anomalies, down to their
returns, cancellations and re-sends; only their order numbers follow the added or removed ones.
The same day's other segments can change with it (a spike in DE also adds to the shop and to the
categories DE buys), never another value of the same segment type.

Days and segments are chosen from the run's seed before any order is drawn (``plan``): only days after
a warm-up of ``WARM_UP_DAYS`` (so a forecast made before the day can exist; the days a continued
folder already holds count, see ``demo_history.read_daily_orders``), never the last day (it is
complete only once the next file arrived), no two anomalies on the same or adjacent days.
The size of a spike or drop is decided on its day from the orders of the days before it (before
injection), see ``usual_spread``.

The ground truth (``write_ground_truth``) is a CSV file with one row per day and segment changed
(``GROUND_TRUTH_COLUMNS``; an outage has a row per day).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingestion.demo_shop import CATEGORY_NAMES, CURRENCY_BY_COUNTRY, OrderLines, Shop, random_stream, simulate_day
from ingestion.sources import STATUSES

KINDS = ("spike", "drop", "outage", "lost_day")
SEGMENT_TYPES = ("shop", "category", "country")
SHOP_SEGMENT = "all"
DEFAULT_SPREADS = 3.0
WARM_UP_DAYS = 8 * 7
OUTAGE_DAYS = 3
# Spikes, drops and the choice of days and segments draw from streams of their own, so that the
# days without anomalies stay those of the same run without them.
_PLAN_STREAM, _INJECTION_STREAM = 7, 8
_COMPLETED = STATUSES.index("completed")
GROUND_TRUTH_COLUMNS = (
    "day",  # the day the orders were placed, YYYY-MM-DD
    "kind",  # spike, drop, outage, lost_day
    "first_day",  # the anomaly's first day (an outage lasts several days)
    "segment_type",  # shop, category, country
    "segment_value",  # "all" for the shop, a category name, a country code
    "metrics",  # the segment's measures that moved, ";"-separated
    "factor",  # injected / expected orders (empty when nothing was expected)
    "usual_spread",  # orders, see usual_spread
    "spreads",  # (injected - expected) / usual_spread
    "expected_orders",  # the segment's orders on the day without the anomaly
    "injected_orders",  # the segment's orders in the files
)
# A change in the number of orders moves the segment's revenue with it; the average order value and
# the return rate only by chance.
_METRICS = "orders;net_revenue"


@dataclass(frozen=True)
class Request:
    """What ``--anomalies`` asks for: how many anomalies of each kind, of what size."""

    counts: dict[str, int]
    spreads: float = DEFAULT_SPREADS

    @classmethod
    def parse(cls, text: str, spreads: float = DEFAULT_SPREADS) -> Request:
        """``"spike:4,drop:4,outage,lost_day"``: kinds with an optional count (default 1)."""
        counts: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            kind, _, count = item.partition(":")
            count = count or "1"
            if kind not in KINDS:
                raise ValueError(f"unknown anomaly kind {kind!r} (kinds: {', '.join(KINDS)})")
            if not count.isdigit():
                raise ValueError(f"the number of {kind} anomalies must be a whole number, not {count!r}")
            counts[kind] = counts.get(kind, 0) + int(count)
        if spreads <= 0:
            raise ValueError("the size of spikes and drops must be more than 0 spreads")
        return cls(counts=counts, spreads=spreads)


@dataclass(frozen=True)
class Planned:
    kind: str
    first_day: int  # day index in the run
    days: int
    segment_type: str
    segment_value: str


@dataclass(frozen=True)
class Injected:
    """One day and segment the generator changed: a row of the ground truth."""

    day: str
    kind: str
    first_day: str
    segment_type: str
    segment_value: str
    usual_spread: float
    expected_orders: int
    injected_orders: int

    def row(self) -> dict[str, str]:
        change = self.injected_orders - self.expected_orders
        return {
            "day": self.day,
            "kind": self.kind,
            "first_day": self.first_day,
            "segment_type": self.segment_type,
            "segment_value": self.segment_value,
            "metrics": _METRICS,
            "factor": f"{self.injected_orders / self.expected_orders:.4f}" if self.expected_orders else "",
            "usual_spread": f"{self.usual_spread:.3f}",
            "spreads": f"{change / self.usual_spread:.3f}",
            "expected_orders": str(self.expected_orders),
            "injected_orders": str(self.injected_orders),
        }


def segments() -> list[tuple[str, str]]:
    """Every segment whose daily orders are followed: the shop, each category, each country."""
    return [
        ("shop", SHOP_SEGMENT),
        *(("category", name) for name in CATEGORY_NAMES),
        *(("country", country) for country in CURRENCY_BY_COUNTRY),
    ]


def plan(request: Request, seed: int, days: int, salt: tuple[int, ...] = (), earlier_days: int = 0) -> list[Planned]:
    """The anomalies' days and segments, in day order (``ValueError`` when they do not fit).

    A day is eligible after the warm-up (``earlier_days``, the days known before the run, count
    towards it) and before the last day; an anomaly never touches or follows right after another
    one, so a detector sees each against days without anomalies.
    """
    first_eligible = max(0, WARM_UP_DAYS - earlier_days)
    rng = random_stream(seed, _PLAN_STREAM, *salt)
    taken = np.zeros(days + 1, dtype=bool)  # a day an anomaly covers or borders
    planned: list[Planned] = []
    for kind in KINDS:
        for _ in range(request.counts.get(kind, 0)):
            length = OUTAGE_DAYS if kind == "outage" else 1
            starts = [
                start for start in range(first_eligible, days - length) if not taken[max(start - 1, 0) : start + length + 1].any()
            ]
            if not starts:
                wanted = sum(request.counts.values())
                raise ValueError(
                    f"{wanted} anomalies do not fit in {days} days (none in the first {WARM_UP_DAYS} days of "
                    "the folder's history, none on the last day or on neighbouring days): ask for fewer or "
                    "generate more days"
                )
            start = int(starts[rng.integers(len(starts))])
            taken[start : start + length] = True
            segment_type, segment_value = _segment(kind, rng)
            planned.append(Planned(kind, start, length, segment_type, segment_value))
    return sorted(planned, key=lambda anomaly: anomaly.first_day)


def _segment(kind: str, rng: np.random.Generator) -> tuple[str, str]:
    if kind == "lost_day":
        return "shop", SHOP_SEGMENT
    if kind == "outage":
        return "category", CATEGORY_NAMES[rng.integers(len(CATEGORY_NAMES))]
    segment_type = SEGMENT_TYPES[rng.integers(len(SEGMENT_TYPES))]
    values = [value for type_of_segment, value in segments() if type_of_segment == segment_type]
    return segment_type, values[rng.integers(len(values))]


def usual_spread(orders_before: np.ndarray) -> float:
    """The usual day-to-day spread of a segment's daily orders: the standard deviation of their
    residual around a weekly pattern over the ``WARM_UP_DAYS`` days before the day (one level per
    week plus one effect per weekday, fitted by least squares, so that trend, season and the weekend
    peak do not count as spread), at least one order.

    ``orders_before`` are the segment's orders on the days before, oldest first, without any
    injected anomaly.
    """
    weeks = WARM_UP_DAYS // 7
    window = np.asarray(orders_before[-weeks * 7 :], dtype=float).reshape(weeks, 7)
    residual = window - window.mean(axis=1, keepdims=True) - window.mean(axis=0, keepdims=True) + window.mean()
    degrees_of_freedom = (weeks - 1) * (7 - 1)
    return max(1.0, float(np.sqrt((residual**2).sum() / degrees_of_freedom)))


class SegmentOrders:
    """Which order belongs to which segment, for the lines of one day's orders."""

    def __init__(self, shop: Shop, lines: OrderLines) -> None:
        self.lines = lines
        self.category = shop.catalog.category_index[lines.product]
        sale = lines.status == _COMPLETED
        self.orders, first_line = np.unique(lines.order_number[sale], return_index=True)
        self.country = lines.country[sale][first_line]

    def of(self, segment_type: str, segment_value: str) -> np.ndarray:
        """The order numbers in the segment."""
        if segment_type == "shop":
            return self.orders
        if segment_type == "country":
            return self.orders[self.country == list(CURRENCY_BY_COUNTRY).index(segment_value)]
        in_category = (self.lines.status == _COMPLETED) & (self.category == CATEGORY_NAMES.index(segment_value))
        return np.unique(self.lines.order_number[in_category])

    def counts(self) -> np.ndarray:
        """Orders of every segment, in the order of ``segments()``."""
        sale = self.lines.status == _COMPLETED
        per_category = np.unique(self.lines.order_number[sale] * len(CATEGORY_NAMES) + self.category[sale])
        return np.concatenate(
            [
                [len(self.orders)],
                np.bincount(per_category % len(CATEGORY_NAMES), minlength=len(CATEGORY_NAMES)),
                np.bincount(self.country, minlength=len(CURRENCY_BY_COUNTRY)),
            ]
        )

    def lines_of(self, orders: np.ndarray, segment_type: str, segment_value: str) -> np.ndarray:
        """Mask of the lines of ``orders`` that belong to the segment (with their later events)."""
        of_orders = np.isin(self.lines.order_number, orders)
        if segment_type == "category":
            return of_orders & (self.category == CATEGORY_NAMES.index(segment_value))
        return of_orders


def inject(
    shop: Shop,
    day: int,
    lines: OrderLines,
    arrival_day: np.ndarray,
    anomaly: Planned,
    spread: float,
    request: Request,
    seed: int,
) -> tuple[OrderLines, np.ndarray, Injected]:
    """The day's lines (and the day of the file each arrives in) with the anomaly injected."""
    rng = random_stream(seed, _INJECTION_STREAM, day, *shop.salt)
    segment = (anomaly.segment_type, anomaly.segment_value)
    day_orders = SegmentOrders(shop, lines)
    in_segment = day_orders.of(*segment)
    expected = len(in_segment)
    change = math.ceil(request.spreads * spread)  # at least k spreads (a drop stops at no orders)
    if anomaly.kind == "spike":
        added_lines, added_arrival = _more_orders(shop, day, day_orders, segment, change, rng)
        lines = OrderLines.concat([lines, added_lines])
        arrival_day = np.concatenate([arrival_day, added_arrival])
    else:
        kept = expected - change if anomaly.kind == "drop" else 0
        removed = rng.choice(in_segment, expected - max(kept, 0), replace=False)
        keep = ~day_orders.lines_of(removed, *segment)
        lines, arrival_day = lines.take(np.flatnonzero(keep)), arrival_day[keep]
    injected = len(SegmentOrders(shop, lines).of(*segment))
    first_day = shop.calendar.dates[anomaly.first_day].isoformat()
    return (
        lines,
        arrival_day,
        Injected(shop.calendar.dates[day].isoformat(), anomaly.kind, first_day, *segment, spread, expected, injected),
    )


def _more_orders(
    shop: Shop,
    day: int,
    day_orders: SegmentOrders,
    segment: tuple[str, str],
    wanted: int,
    rng: np.random.Generator,
) -> tuple[OrderLines, np.ndarray]:
    """Lines of ``wanted`` more orders of the segment on ``day``, placed like the day's own: a batch of
    orders is simulated from the injection stream and ``wanted`` of those in the segment are kept
    (for a category, only their lines of the category). Their numbers come after the day's orders."""
    share = max(len(day_orders.of(*segment)), 1) / max(len(day_orders.orders), 1)
    batch = int(wanted / share * 1.5) + 20
    calendar = shop.calendar
    while True:
        order_counts, first_numbers = calendar.order_counts.copy(), calendar.first_order_number.copy()
        order_counts[day] = batch
        first_numbers[day] = calendar.first_order_number[day] + calendar.order_counts[day]
        batch_shop = replace(shop, calendar=replace(calendar, order_counts=order_counts, first_order_number=first_numbers))
        batch_lines, arrival_day = simulate_day(batch_shop, day, rng)
        batch_orders = SegmentOrders(shop, batch_lines)
        candidates = batch_orders.of(*segment)
        if len(candidates) >= wanted:
            keep = batch_orders.lines_of(rng.choice(candidates, wanted, replace=False), *segment)
            return batch_lines.take(np.flatnonzero(keep)), arrival_day[keep]
        batch *= 2


def renumbered(lines: OrderLines, first_number: int) -> OrderLines:
    """The day's orders numbered ``first_number``, ``first_number + 1``, ... in the order they were
    placed (orders added or removed by an anomaly leave no gap or overlap in the numbers)."""
    sale = lines.status == _COMPLETED
    numbers, first_line = np.unique(lines.order_number[sale], return_index=True)
    rank = np.empty(len(numbers), dtype=np.int64)
    rank[np.argsort(lines.ordered_at[sale][first_line], kind="stable")] = np.arange(len(numbers))
    return replace(lines, order_number=first_number + rank[np.searchsorted(numbers, lines.order_number)])


def write_ground_truth(path: Path, injected: Iterable[Injected]) -> Path:
    """Append the rows to the CSV file at ``path`` (a header first when it is new), so that the runs
    that continue a folder add to one ground truth."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=GROUND_TRUTH_COLUMNS, lineterminator="\n")
        if is_new:
            writer.writeheader()
        writer.writerows(anomaly.row() for anomaly in injected)
    return path
