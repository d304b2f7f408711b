"""Continue a landing folder's demo history: what ``ecom generate`` runs, so that a new day of
orders adds orders instead of replacing old ones.

The loader replaces an order whose ``order_id`` is already loaded (CONTRACT.md, "Corrections"),
so a generator that started at ORD-0000000001 again would overwrite the shop's first orders
instead of adding a day. ``continue_orders`` therefore finds the history already delivered and
hands it to ``generate_orders``, which numbers orders and new customers after it and starts
the day after its last day (with no history: ``today - days``, so that the data ends yesterday
and looks live, unless a start is given).

How the history is found, cheapest first:

1. **The state file** ``.ecom-generate.json`` in the folder, written after every run of
   ``continue_orders``: last day, last order number, last customer number and the customer
   ids' width. Reading it costs nothing, whatever the folder holds (365 files of 5 million
   lines). It is a dot file, which the loader and the landing sensor ignore. It holds the
   numbers a run *used*, which can be more than the files show (customers numbered but never
   seen), so it is exact where a scan can only see what was written.
2. **The file names**, for the last day: ``orders_YYYY-MM-DD[_broken-KIND].<ext>``; listing a
   folder is cheap.
3. **The files of the last few days** (``SCANNED_DATES``) *after* the state file's last day,
   i.e. files the state file does not know: those of ``ecom run``'s demo data, of
   ``generate_orders`` called as a library, or of an older ``ecom generate``. Only the
   ``order_id`` and ``customer_id`` columns are read, with Arrow (C++, gzip included), and
   reduced to their highest ``ORD-`` and ``C`` numbers, so even a day of a 5-million-line year
   takes milliseconds. Orders are numbered in the order they were placed and the generator
   delivers every order of its last day in that day's file, so the newest days hold the
   highest numbers; several days are read in case the last ones hold no new orders.
4. **Optionally the warehouse** (``warehouse_url``): one read-only transaction on
   ``raw.order_lines`` for the highest ``ORD-`` order id (an index lookup), the highest ``C``
   customer number and the last ``ordered_at`` (one scan), for a landing folder whose files
   were archived or deleted after loading.

All sources are merged by taking the later day and the higher numbers. Reading every row of
the folder would be exact without a state file, but its cost grows with the folder (seconds
to minutes for a year of files, at every run); the state file plus a look at the newest days
gives the answer in milliseconds. To start a folder over, delete its order files *and*
``.ecom-generate.json``.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.json
import pyarrow.parquet as pq

from ingestion.demo_anomalies import Request, segments
from ingestion.demo_data import GenerationReport, History, generate_orders
from ingestion.demo_files import file_path

STATE_FILE = ".ecom-generate.json"
SCANNED_DATES = 7
_DAY_FILE = re.compile(r"orders_(\d{4}-\d{2}-\d{2})(_broken-[a-z0-9-]+)?\.(csv|jsonl|parquet)(\.gz)?")
_ORDER_ID = r"^ORD-[0-9]{10}$"
_CUSTOMER_ID = r"^C[0-9]{6,10}$"
_ID_COLUMNS = ("order_id", "customer_id")


class PassedOn(TypedDict, total=False):
    """Arguments of ``generate_orders`` that ``continue_orders`` passes on as they are."""

    seed: int
    defect_rate: float
    progress: Callable[[int], None] | None
    anomalies: Request | None


def continue_orders(
    out_dir: Path,
    *,
    orders: int,
    days: int,
    file_format: str = "csv",
    start: date | None = None,
    compress: bool = False,
    warehouse_url: str | None = None,
    today: date | None = None,
    **passed_on: Unpack[PassedOn],
) -> GenerationReport:
    """``generate_orders`` after the history of ``out_dir`` (and of the warehouse at
    ``warehouse_url``, when given), then record the new history in the folder's state file.

    Days start after the history's last day, or at ``today - days`` without history, unless
    ``start`` is given; order and customer numbers always continue after the history, so a
    start inside the history adds orders to those days rather than replacing any. A day file
    that already exists is never overwritten (``FileExistsError``).
    """
    out_dir = Path(out_dir)
    history = folder_history(out_dir)
    if warehouse_url:
        history = history.merged(warehouse_history(warehouse_url))
    if start is None:
        start = history.next_day or (today or date.today()) - timedelta(days=days)
    existing = [
        path
        for day in range(max(days, 0))
        if (path := file_path(out_dir, start + timedelta(days=day), file_format, compress)).exists()
    ]
    if existing:
        last = f" (its last day is {history.last_day})" if history.last_day else ""
        raise FileExistsError(f"{existing[0]} exists{last}: choose a start after the days already in {out_dir}")
    report = generate_orders(
        out_dir,
        orders=orders,
        days=days,
        file_format=file_format,
        start=start,
        compress=compress,
        history=history,
        earlier_orders=read_daily_orders(out_dir, start),
        **passed_on,
    )
    assert report.history is not None and report.history.next_day is not None
    # a run that ends before the history does (a --start inside it) keeps the history's daily orders
    extends_history = report.last_day == report.history.last_day
    daily_orders = report.segment_orders if extends_history else read_daily_orders(out_dir, report.history.next_day)
    write_state(out_dir, report.history, daily_orders)
    return report


def folder_history(folder: Path) -> History:
    """The history of ``folder``: its state file, merged with the generated files it does not
    know (see the module docstring)."""
    folder = Path(folder)
    state = read_state(folder) or History()
    files_by_day: dict[date, list[Path]] = defaultdict(list)
    for path, day, broken in _day_files(folder):
        files_by_day[day].extend([] if broken else [path])
    if not files_by_day:
        return state
    history = state.merged(History(last_day=max(files_by_day)))
    unknown_days = sorted(day for day in files_by_day if state.last_day is None or day > state.last_day)
    for day in unknown_days[-SCANNED_DATES:]:
        for path in files_by_day[day]:
            history = history.merged(file_history(path))
    return history


def read_state(folder: Path) -> History | None:
    """The folder's state file, None when there is none (or it cannot be read)."""
    try:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        return History(
            last_day=date.fromisoformat(state["last_day"]) if state.get("last_day") else None,
            last_order=int(state["last_order"]),
            last_customer=int(state["last_customer"]),
            customer_digits=int(state["customer_digits"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_daily_orders(folder: Path, start: date) -> np.ndarray | None:
    """The orders per segment (``demo_anomalies.segments()``) of the days right before ``start``,
    oldest first, as the state file holds them; None when it holds none for those days."""
    try:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        daily = state["daily_orders"]
        if date.fromisoformat(state["last_day"]) + timedelta(days=1) != start or daily["segments"] != _segment_names():
            return None
        rows = [[int(orders) for orders in day.split(",")] for day in daily["days"]]
        return np.array(rows, dtype=np.int64).reshape(-1, len(_segment_names()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _segment_names() -> list[str]:
    return [f"{segment_type}/{value}" for segment_type, value in segments()]


def write_state(folder: Path, history: History, daily_orders: np.ndarray | None = None) -> Path:
    """Write the state file atomically (a dot file too while it is being written).

    ``daily_orders`` are the orders per segment of the days up to the history's last day, before
    any injected anomaly: the warm-up of the next run's anomalies (ingestion/demo_anomalies.py).
    """
    path = Path(folder) / STATE_FILE
    state = {
        "about": "What `ecom generate` delivered to this folder; its next run continues after it. "
        "Delete this file together with the order files to start over.",
        "last_day": history.last_day.isoformat() if history.last_day else None,
        "last_order": history.last_order,
        "last_customer": history.last_customer,
        "customer_digits": history.customer_digits,
    }
    if daily_orders is not None:
        # a line per day, oldest first
        days = [",".join(map(str, day)) for day in daily_orders.tolist()]
        state["daily_orders"] = {"segments": _segment_names(), "days": days}
    partial = path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(path)
    return path


def file_history(path: Path) -> History:
    """Highest order and customer numbers in one order file (empty if it cannot be read)."""
    table = _id_columns(path)
    if table is None:
        return History()
    history = {}
    order_ids = pc.filter(table["order_id"], pc.match_substring_regex(table["order_id"], _ORDER_ID))
    if len(order_ids):
        history["last_order"] = int(pc.max(order_ids).as_py()[4:])  # zero-padded: text order = number order
    customer_ids = pc.filter(table["customer_id"], pc.match_substring_regex(table["customer_id"], _CUSTOMER_ID))
    if len(customer_ids):
        numbers = pc.cast(pc.utf8_slice_codeunits(customer_ids, 1), pa.int64())
        history["last_customer"] = pc.max(numbers).as_py()
        history["customer_digits"] = pc.min(pc.utf8_length(customer_ids)).as_py() - 1
    return History(**history)


def warehouse_history(url: str) -> History:
    """The demo history already loaded into ``raw.order_lines`` at ``url``, read in a read-only
    transaction; ``ConnectionError`` when the warehouse cannot be read."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10, options=_READ_ONLY, application_name="ecom generate") as conn:
            return _warehouse_history(conn)
    except psycopg.Error as error:
        raise ConnectionError(f"cannot read the history in the warehouse: {error}".strip()) from error


_READ_ONLY = "-c default_transaction_read_only=on -c statement_timeout=120s"


def _warehouse_history(conn) -> History:
    if conn.execute("select to_regclass('raw.order_lines')").fetchone()[0] is None:
        return History()
    # order_id is indexed (collation "C"): its highest matching value is one backward index scan
    (last_order_id,) = conn.execute(
        "select max(order_id) from raw.order_lines"
        " where order_id between 'ORD-0000000000' and 'ORD-9999999999' and order_id ~ %s",
        (_ORDER_ID,),
    ).fetchone()
    # one scan; padding makes the text maximum the numeric one whatever the ids' width
    last_ordered_at, last_customer, shortest_customer_id = conn.execute(
        """
        select max(ordered_at),
               max(lpad(substr(customer_id, 2), 10, '0')) filter (where is_demo_customer),
               min(length(customer_id)) filter (where is_demo_customer)
        from (select ordered_at, customer_id, customer_id ~ %s as is_demo_customer from raw.order_lines) lines
        """,
        (_CUSTOMER_ID,),
    ).fetchone()
    return History(
        last_day=None if last_ordered_at is None else last_ordered_at.astimezone(UTC).date(),
        last_order=int(last_order_id[4:]) if last_order_id else 0,
        last_customer=int(last_customer) if last_customer else 0,
        customer_digits=shortest_customer_id - 1 if shortest_customer_id else 6,
    )


def _day_files(folder: Path) -> list[tuple[Path, date, bool]]:
    """The generator's files under ``folder`` (as the loader sees them: dot files excluded),
    with their day and whether they are a broken file."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob("orders_*"):
        match = _DAY_FILE.fullmatch(path.name)
        if match is None or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            continue
        if path.is_file():
            found.append((path, day, match[2] is not None))
    return found


def _id_columns(path: Path) -> pa.Table | None:
    """The order_id and customer_id columns of an order file, as strings."""
    types = {name: pa.string() for name in _ID_COLUMNS}
    try:
        if ".parquet" in path.suffixes:
            table = pq.read_table(path, columns=list(_ID_COLUMNS))
        elif ".jsonl" in path.suffixes:
            schema = pa.schema(types)
            options = pyarrow.json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
            table = pyarrow.json.read_json(path, parse_options=options)
        else:
            options = pyarrow.csv.ConvertOptions(include_columns=list(_ID_COLUMNS), column_types=types)
            table = pyarrow.csv.read_csv(path, convert_options=options)
        return table.select(list(_ID_COLUMNS)).cast(pa.schema(types))
    except (pa.ArrowException, OSError, KeyError, ValueError):
        return None
