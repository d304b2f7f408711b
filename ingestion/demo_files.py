"""The demo shop's file writers: a day's order lines as a CSV, JSON Lines or Parquet export (optionally
gzipped), defects rendered as a shop would garble them, and broken files (empty, a column missing,
not UTF-8, truncated). The lines come from the simulator, ingestion/demo_shop.py.

Whole columns are rendered as bytes with numpy lookups, so a day of hundreds of thousands of lines
is written in C rather than row by row; output is byte-identical for the same lines.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.demo_shop import (
    BROKEN_FILE_STREAM,
    CHANNELS,
    CURRENCY_BY_COUNTRY,
    DEFECT_KINDS,
    SECONDS_PER_DAY,
    STATUSES,
    Calendar,
    OrderLines,
    Shop,
    digit_table,
    random_stream,
    zero_padded,
)
from ingestion.sources import CONTRACT_COLUMNS

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

# --- text rendering lookups (bytes, so that whole columns concatenate in C) ---------


def _concatenated(pieces: Iterable[bytes | np.ndarray]) -> np.ndarray:
    """Row-wise concatenation of bytes arrays and constant bytes."""
    return reduce(np.strings.add, pieces)


_PADDED_2_DIGITS = digit_table(2)
_PLAIN_INTEGERS = np.arange(100_000).astype("S5")


def _time_of_day_table() -> np.ndarray:
    """``THH:MM:SS+00:00`` for every second of a day."""
    minutes, second = np.divmod(np.arange(SECONDS_PER_DAY), 60)
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


def _text_defect_masks(defect_kinds: np.ndarray) -> Iterator[tuple[str, np.ndarray, str]]:
    for kind, (column, text) in _TEXT_DEFECTS.items():
        mask = defect_kinds == DEFECT_KINDS.index(kind)
        if mask.any():
            yield column, mask, text


def plan_broken_files(seed: int, calendar: Calendar, file_format: str, salt: tuple[int, ...] = ()) -> dict[int, list[str]]:
    """Day of each broken file; only days with orders, so that there is content to break."""
    days_with_orders = np.flatnonzero(calendar.order_counts > 0)
    if days_with_orders.size == 0:
        return {}
    kinds = BROKEN_FILE_KINDS[file_format]
    rng = random_stream(seed, BROKEN_FILE_STREAM, *salt)
    chosen = rng.choice(days_with_orders, len(kinds), replace=days_with_orders.size < len(kinds))
    plan: dict[int, list[str]] = defaultdict(list)
    for day, kind in zip(chosen, kinds, strict=True):
        plan[int(day)].append(kind)
    return plan


# --- rendering --------------------------------------------------------------------------


def _text_columns(rows: OrderLines, shop: Shop, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Raw (unescaped) UTF-8 values of the requested contract columns."""
    catalog, customers = shop.catalog, shop.customers
    renderers = {
        "order_id": lambda: np.strings.add(b"ORD-", zero_padded(rows.order_number, 10)),
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


def _integer_text(values: np.ndarray) -> np.ndarray:
    return np.strings.add(np.where(values < 0, b"-", b""), _PLAIN_INTEGERS[np.abs(values)])


def _cents_text(cents: np.ndarray) -> np.ndarray:
    whole, fraction = np.divmod(np.abs(cents), 100)
    text = np.strings.add(np.where(cents < 0, b"-", b""), _PLAIN_INTEGERS[whole])
    return np.strings.add(np.strings.add(text, b"."), _PADDED_2_DIGITS[fraction])


def _timestamp_text(epoch_seconds: np.ndarray) -> np.ndarray:
    day, second = np.divmod(epoch_seconds, SECONDS_PER_DAY)
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


def _arrow_table(rows: OrderLines, shop: Shop, defect_kinds: np.ndarray, names: tuple[str, ...]) -> pa.Table:
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


def file_path(out_dir: Path, day: date, file_format: str, compress: bool, broken: str | None = None) -> Path:
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


def write_day_file(
    out_dir: Path,
    shop: Shop,
    day: int,
    rows: OrderLines,
    defect_kinds: np.ndarray,
    file_format: str,
    compress: bool,
) -> GeneratedFile:
    path = file_path(out_dir, shop.calendar.dates[day], file_format, compress)
    if file_format == "parquet":
        pq.write_table(_arrow_table(rows, shop, defect_kinds, CONTRACT_COLUMNS), path)
    else:
        columns = _text_columns(rows, shop, CONTRACT_COLUMNS)
        for column, mask, value in _text_defect_masks(defect_kinds):
            columns[column] = _with_value(columns[column], mask, value)
        _write_bytes(path, _text_payload(columns, file_format))
    return GeneratedFile(path=path, lines=len(rows), bad_lines=int((defect_kinds >= 0).sum()))


def write_broken_file(
    out_dir: Path, shop: Shop, day: int, sample: OrderLines, kind: str, file_format: str, compress: bool
) -> GeneratedFile:
    path = file_path(out_dir, shop.calendar.dates[day], file_format, compress, broken=kind)
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
