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

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from ingestion import demo_anomalies
from ingestion.demo_anomalies import Injected, SegmentOrders
from ingestion.demo_files import GeneratedFile, plan_broken_files, write_broken_file, write_day_file
from ingestion.demo_shop import (
    DAY_STREAM,
    DEFECT_KINDS,
    DEFECT_STREAM,
    History,
    OrderLines,
    Shop,
    add_defects,
    random_stream,
    simulate_day,
    split_by_day,
)
from ingestion.sources import FORMATS

DEFAULT_START = date(2025, 1, 1)
# A broken file is made of this many lines of its day.
_BROKEN_SAMPLE_LINES = 20


@dataclass(frozen=True)
class GenerationReport:
    files: list[GeneratedFile]
    orders: int  # distinct orders generated
    lines: int  # data lines written over all files
    first_day: date | None = None
    last_day: date | None = None
    history: History | None = None  # the history including this run
    continued_from: History | None = None  # the history this run continued, None for a fresh start
    anomalies: list[Injected] = field(default_factory=list)  # the days and segments an anomaly changed
    # orders per segment of the run's last days (at most WARM_UP_DAYS, the earlier days' included)
    segment_orders: np.ndarray | None = None

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
    anomalies: demo_anomalies.Request | None = None,
    earlier_orders: np.ndarray | None = None,
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

    ``anomalies`` injects spikes, drops, outages and lost days (``ingestion.demo_anomalies``);
    the report lists the days and segments they changed. The days without one are those of the
    same run without anomalies, but for the order numbers after an anomaly. ``earlier_orders``
    are the orders per segment (``demo_anomalies.segments()``) of the days right before ``start``,
    oldest first: they count towards the warm-up and the usual spread, so that a run continuing a
    history can have anomalies from its first day; the report's ``segment_orders`` are those of
    the run's last days, to pass on to the next run.
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

    start = start or (history.next_day if history is not None else None) or DEFAULT_START
    shop = Shop.create(seed=seed, orders=orders, days=days, start=start, history=history)
    earlier_orders = np.zeros((0, len(demo_anomalies.segments())), dtype=np.int64) if earlier_orders is None else earlier_orders
    planned = demo_anomalies.plan(anomalies, seed, days, shop.salt, len(earlier_orders)) if anomalies is not None else []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    broken_files_by_day = plan_broken_files(seed, shop.calendar, file_format, shop.salt) if defect_rate > 0 else {}
    arriving: dict[int, list[OrderLines]] = defaultdict(list)  # day -> lines of that day's file
    files: list[GeneratedFile] = []
    bad_lines_so_far = 0
    anomaly_on_day = {day: anomaly for anomaly in planned for day in range(anomaly.first_day, anomaly.first_day + anomaly.days)}
    # orders per day and segment before any injection, the earlier days' first
    segment_orders = np.concatenate([earlier_orders, np.zeros((days, earlier_orders.shape[1]), dtype=np.int64)])
    injected: list[Injected] = []
    next_order_number = int(shop.calendar.first_order_number[0])

    for day in range(days):
        new_lines, arrival_day = simulate_day(shop, day, random_stream(seed, DAY_STREAM, day, *shop.salt))
        anomaly = anomaly_on_day.get(day)
        segment_orders[len(earlier_orders) + day] = SegmentOrders(shop, new_lines).counts()
        if anomalies is not None:
            if anomaly is not None:
                column = demo_anomalies.segments().index((anomaly.segment_type, anomaly.segment_value))
                spread = demo_anomalies.usual_spread(segment_orders[: len(earlier_orders) + day, column])
                new_lines, arrival_day, change = demo_anomalies.inject(
                    shop, day, new_lines, arrival_day, anomaly, spread, anomalies, seed
                )
                injected.append(change)
            new_lines = demo_anomalies.renumbered(new_lines, next_order_number)
            next_order_number += len(SegmentOrders(shop, new_lines).orders)
        for target_day, part in split_by_day(new_lines, arrival_day):
            if target_day < days:  # events after the last day are never delivered
                arriving[target_day].append(part)
        if anomaly is not None and anomaly.kind == "lost_day":  # its file never arrives; the next one
            arriving[day + 1] = arriving.pop(day, []) + arriving[day + 1]  # brings what it also carried
            # and the broken files planned for it, so that every kind still shows up
            broken_files_by_day[day + 1] = broken_files_by_day.pop(day, []) + broken_files_by_day.get(day + 1, [])
            continue
        rows = OrderLines.concat(arriving.pop(day, [])).sorted_for_file()

        defect_kinds = np.full(len(rows), -1, dtype=np.int8)
        if defect_rate > 0:
            rows, defect_kinds = add_defects(
                rows,
                defect_rate,
                random_stream(seed, DEFECT_STREAM, day, *shop.salt),
                first_kind=bad_lines_so_far % len(DEFECT_KINDS),
                # every kind shows up at least once per run, even with tiny rates
                minimum=max(0, len(DEFECT_KINDS) - bad_lines_so_far),
            )
        day_files = [write_day_file(out_dir, shop, day, rows, defect_kinds, file_format, compress)]
        bad_lines_so_far += day_files[0].bad_lines

        sample = new_lines.take(np.arange(min(_BROKEN_SAMPLE_LINES, len(new_lines))))
        for kind in broken_files_by_day.get(day, []):
            day_files.append(write_broken_file(out_dir, shop, day, sample, kind, file_format, compress))
        for generated in day_files:
            files.append(generated)
            if progress is not None:
                progress(generated.lines)

    orders_before = history.last_order if history is not None else 0
    orders_placed = next_order_number - 1 - orders_before if anomalies is not None else orders
    this_run = History(
        last_day=shop.calendar.dates[-1],
        last_order=orders_before + orders_placed,
        last_customer=len(shop.customers.ids),
        customer_digits=shop.customers.id_digits,
    )
    return GenerationReport(
        files=files,
        orders=orders_placed,
        lines=sum(file.lines for file in files),
        first_day=shop.calendar.dates[0],
        last_day=shop.calendar.dates[-1],
        history=this_run if history is None else history.merged(this_run),
        continued_from=history,
        anomalies=injected,
        segment_orders=segment_orders[-demo_anomalies.WARM_UP_DAYS :],
    )
