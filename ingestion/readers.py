"""Readers: stream one landed file, whatever its format, as batches of text records.

A batch holds the file's own columns as Arrow string arrays, every value exactly as written, and the
line number of each record. Mapping and validation happen later (loader.py), so that every bad value
can be quarantined with the raw row it came from. A record that cannot even be split into columns is
a `MalformedRecord`; a file that cannot be read at all raises `FileRejected`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ingestion.sources import WHITESPACE, MappingError, SourceMapping

# Records per batch: large enough for vectorised work to pay off, small enough that the few batches
# in flight (loader.py) stay far below the memory budget whatever the file's size.
BATCH_ROWS = 100_000
# Arrow parses a CSV in blocks of bytes and reads some 30 blocks ahead: small blocks keep that
# buffer small; they are joined into batches of BATCH_ROWS.
CSV_BLOCK_BYTES = 1 << 20
# Arrow cannot parse a record larger than a block: a file with one is read again in blocks this many
# times as large, up to the largest (a record of several MB loads; normal files keep small blocks).
CSV_BLOCK_GROWTH = 4
LARGEST_CSV_BLOCK_BYTES = 64 << 20
HEADER_PEEK_BYTES = 1 << 16
WHITESPACE_CHUNK_BYTES = 1 << 20
HEADER_PEEK_LINES = 20
# A JSON number further from 1 than this many powers of ten makes its line malformed: no column holds
# it, PostgreSQL's numeric (the quarantine's jsonb) cannot store 1e999999999, and written out it
# would take a gigabyte.
MAX_JSON_EXPONENT = 1000
FIRST_CSV_RECORD_LINE = 2  # the header is line 1 (Parquet has none: its first record is line 1)


class FileRejected(Exception):
    """The file as a whole cannot be loaded; the message says why, for the manifest."""


@dataclass(frozen=True)
class MalformedRecord:
    """A record that could not even be split into columns (quarantined before validation)."""

    source_line: int
    reason: str
    raw: dict


@dataclass(frozen=True)
class TextBatch:
    records: pa.RecordBatch  # one string column per column of the file, named and ordered as in the file
    source_lines: pa.Array  # int64: the line number of each record
    raw_records: pa.Array | None = None  # JSON Lines: each record's line as written, kept for quarantine
    malformed: list[MalformedRecord] = field(default_factory=list)  # found while reading this batch


@dataclass(frozen=True)
class RecordStream:
    header: list[str]  # the file's column names, in order (JSON Lines: the keys the mapping reads)
    batches: Iterator[TextBatch]


def open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _arrow_source(path: Path) -> str | IO[bytes]:
    """`path` as Arrow opens it: by name, which Arrow takes as UTF-8, or else (a name with bytes that
    are not UTF-8) as a file Python opened."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return open(path, "rb")
    return str(path)


def read_records(path: Path, mapping: SourceMapping) -> RecordStream:
    """The file's records, batch by batch. Raises FileRejected, right away or while streaming."""
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    with _unreadable_as_rejection():
        stream = readers[mapping.format_of(path)](path, mapping)
    return RecordStream(stream.header, _non_empty(stream.batches))


def read_header(path: Path, mapping: SourceMapping) -> list[str] | None:
    """The file's column names as `mapping` would read them (its format, delimiter, encoding); None if
    it cannot read them that way. Cheap: only the start of the file is read."""
    try:
        file_format = mapping.format_of(path)
        if file_format == "csv":
            return _csv_header(path, mapping)
        if file_format == "jsonl":
            return _jsonl_header(path)
        with _parquet_file(path) as parquet:
            return parquet.schema_arrow.names
    except (FileRejected, MappingError, OSError, EOFError, zlib.error, pa.ArrowException, ValueError):
        return None


@contextlib.contextmanager
def _unreadable_as_rejection() -> Iterator[None]:
    """I/O and decompression failures (a truncated gzip stream, say) reject the file."""
    try:
        yield
    except (OSError, EOFError, zlib.error) as error:
        raise FileRejected(f"unreadable file: {error}") from error


def _non_empty(batches: Iterator[TextBatch]) -> Iterator[TextBatch]:
    records = 0
    with _unreadable_as_rejection():
        for batch in batches:
            records += batch.records.num_rows + len(batch.malformed)
            yield batch
    if not records:
        raise FileRejected("empty file: no rows")


def _reject_missing_columns(present: list[str], mapping: SourceMapping) -> None:
    names = [name.strip() for name in present]
    missing = [name for name in mapping.required_export_columns() if name not in names]
    if missing:
        raise FileRejected(f"missing required column(s): {', '.join(missing)}")
    # Any repeated name, read or not: which of them holds what the name says cannot be told. Blank
    # names (a spreadsheet's unused columns) may repeat.
    repeated = sorted(name for name, count in Counter(names).items() if count > 1 and name)
    if repeated:
        raise FileRejected(f"column(s) named more than once in the header: {', '.join(repeated)}")


def _string_batch(columns: list[pa.Array], header: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(columns, names=header)


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(path: Path, mapping: SourceMapping) -> RecordStream:
    header = _csv_header(path, mapping)
    _reject_missing_columns(header, mapping)
    return RecordStream(header, _csv_batches(path, mapping, header))


def _csv_header(path: Path, mapping: SourceMapping) -> list[str]:
    with _csv_bytes(path, mapping) as raw:
        start = raw.read(HEADER_PEEK_BYTES)
    # The first line, whatever ends it: \n, \r\n or a lone \r (old Mac exports).
    first_line = re.split(rb"\r\n|\r|\n", start, maxsplit=1)[0]
    if not first_line.strip():
        raise FileRejected("empty file: no header row")
    try:
        text = first_line.decode(mapping.csv.python_encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise FileRejected(f"not valid {mapping.csv.encoding}: {error}") from error
    except LookupError as error:
        raise FileRejected(f"unknown encoding {mapping.csv.encoding}") from error
    return next(csv.reader([text], delimiter=mapping.csv.parsed_delimiter, quotechar=mapping.csv.quote))


def _csv_bytes(path: Path, mapping: SourceMapping) -> IO[bytes]:
    raw = open_bytes(path)
    return io.BufferedReader(_WhitespaceDelimited(raw)) if mapping.csv.delimiter == WHITESPACE else raw


class _WhitespaceDelimited(io.RawIOBase):
    """A whitespace-aligned text file as a tab-delimited one: each run of spaces and tabs becomes one
    tab, and those at a line's start and end go. Works chunk by chunk with a byte regex (no per-row
    Python); a run that a chunk ends in is held back until the next chunk shows where it ends."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._pending = b""  # transformed bytes not handed out yet
        self._held = b""  # untransformed tail of the last chunk (a run of blanks that may go on)
        self._at_line_start = True
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            chunk = self._raw.read(WHITESPACE_CHUNK_BYTES)
            self._done = not chunk
            text = self._held + chunk
            keep = len(text) - len(text.rstrip(b" \t")) if chunk else 0
            self._held, text = text[len(text) - keep :], text[: len(text) - keep]
            self._pending = self._transform(text)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _transform(self, text: bytes) -> bytes:
        if not text:
            return b""
        if self._at_line_start:
            text = text.lstrip(b" \t")
        self._at_line_start = text.endswith((b"\n", b"\r"))
        text = re.sub(rb"[ \t]+(?=\r|\n|$)", b"", text)  # trailing blanks
        text = re.sub(rb"(?<=\r|\n)[ \t]+", b"", text)  # leading blanks
        return re.sub(rb"[ \t]+", b"\t", text)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _csv_batches(path: Path, mapping: SourceMapping, header: list[str]) -> Iterator[TextBatch]:
    options = mapping.csv
    malformed: list[MalformedRecord] = []
    reported_up_to = 0  # the line of the last malformed record handed out: reading again meets it again

    def quarantine(row: pa_csv.InvalidRow) -> str:
        if row.number <= reported_up_to:
            return "skip"
        text = io.StringIO(row.text, newline="")
        try:
            fields = next(csv.reader(text, delimiter=options.parsed_delimiter, quotechar=options.quote, strict=True), [])
        except csv.Error:
            return "error"  # a quote that never closes: the rest of the file is one "record"
        reason = f"malformed row: {row.actual_columns} fields, the header has {row.expected_columns}"
        malformed.append(MalformedRecord(row.number, reason, {"fields": fields}))
        return "skip"

    skipped_positions: list[int] = []  # 0-based positions, among all records, of the malformed ones
    good_so_far = 0
    block_bytes = CSV_BLOCK_BYTES
    while True:
        try:
            for records in _joined(_after(_csv_reader(path, mapping, len(header), block_bytes, quarantine), good_so_far)):
                skipped_positions += [record.source_line - FIRST_CSV_RECORD_LINE for record in malformed]
                lines = _csv_record_lines(good_so_far, records.num_rows, skipped_positions)
                yield TextBatch(records.rename_columns(header), lines, malformed=malformed.copy())
                reported_up_to = max([reported_up_to, *(record.source_line for record in malformed)])
                malformed.clear()
                good_so_far += records.num_rows
            break
        except pa.ArrowInvalid as error:
            if "straddling" not in str(error):
                problem = f"not valid {options.encoding}" if "invalid UTF8" in str(error) else "unreadable CSV"
                raise FileRejected(f"{problem}: {error}") from error
            if block_bytes >= LARGEST_CSV_BLOCK_BYTES:
                raise FileRejected(
                    f"unreadable CSV: after the first {good_so_far:,} records, a record of more than"
                    f" {LARGEST_CSV_BLOCK_BYTES / (1 << 20):g} MiB, or a quote that never closes"
                ) from error
            # A record larger than a block: read the file again in larger blocks, from where it was.
            block_bytes *= CSV_BLOCK_GROWTH
            malformed.clear()
        except UnicodeDecodeError as error:
            raise FileRejected(f"not valid {options.encoding}: {error}") from error
    if malformed:  # in the last block, after its last good record
        empty = _string_batch([pa.array([], pa.string())] * len(header), header)
        yield TextBatch(empty, pa.array([], pa.int64()), malformed=malformed.copy())


def _csv_reader(
    path: Path, mapping: SourceMapping, columns: int, block_bytes: int, invalid_row_handler
) -> pa_csv.CSVStreamingReader:
    options = mapping.csv
    # Positional names: a header may repeat a name, or have blank ones.
    names = [str(position) for position in range(columns)]
    return pa_csv.open_csv(
        _csv_input(path, mapping),
        # One thread: Arrow only numbers the malformed rows when it parses serially, and the
        # other core is busy with PostgreSQL anyway.
        read_options=pa_csv.ReadOptions(
            use_threads=False, block_size=block_bytes, column_names=names, skip_rows=1, encoding=options.python_encoding
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=options.parsed_delimiter,
            quote_char=options.quote,
            newlines_in_values=True,
            invalid_row_handler=invalid_row_handler,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def _after(blocks: Iterator[pa.RecordBatch], count: int) -> Iterator[pa.RecordBatch]:
    """The records of `blocks` after the first `count` (those an earlier reading handed out)."""
    for block in blocks:
        if count >= block.num_rows:
            count -= block.num_rows
            continue
        yield block.slice(count)
        count = 0


def _csv_input(path: Path, mapping: SourceMapping):
    if mapping.csv.delimiter == WHITESPACE:
        return pa.PythonFile(_csv_bytes(path, mapping), mode="r")
    return pa.input_stream(_arrow_source(path), compression="gzip" if _is_gzip(path) else None)


def _joined(blocks: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The blocks joined into batches of up to BATCH_ROWS records. The first batch is one block, and
    each next one twice as large: PostgreSQL starts on the file at once, and always has a batch to
    work on while the (larger) next one is being prepared."""
    pending: list[pa.RecordBatch] = []
    target = 0
    for block in blocks:
        pending.append(block)
        if sum(batch.num_rows for batch in pending) >= target:
            batch = pa.concat_batches(pending)
            yield batch
            pending, target = [], min(2 * batch.num_rows, BATCH_ROWS)
    if pending:
        yield pa.concat_batches(pending)


def _csv_record_lines(first_good: int, count: int, skipped_positions: list[int]) -> pa.Array:
    """Line numbers of good records first_good .. first_good + count - 1 (counted among the good
    ones), given where the malformed records Arrow skipped were."""
    good = np.arange(first_good, first_good + count, dtype=np.int64)
    # Skipped record j has (its position - j) good records before it; each one at or before a good
    # record's own count shifts that record one position on.
    good_before_skipped = np.asarray(skipped_positions, dtype=np.int64) - np.arange(len(skipped_positions))
    return pa.array(good + np.searchsorted(good_before_skipped, good, side="right") + FIRST_CSV_RECORD_LINE)


# --- JSON Lines --------------------------------------------------------------------------------


def _read_jsonl(path: Path, mapping: SourceMapping) -> RecordStream:
    return RecordStream(mapping.export_columns(), _jsonl_batches(path, mapping, mapping.export_columns()))


def _jsonl_header(path: Path) -> list[str]:
    """The keys of the first JSON object in the file: what identifies its mapping."""
    for _, line in itertools.islice(_numbered_lines(path), HEADER_PEEK_LINES):
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            if isinstance(record, dict):
                return list(record)
    raise FileRejected("no JSON object in the first lines")


def _jsonl_batches(path: Path, mapping: SourceMapping, header: list[str]) -> Iterator[TextBatch]:
    keys_seen: set[str] = set()
    lines = _numbered_lines(path)
    while chunk := list(itertools.islice(lines, BATCH_ROWS)):
        values: list[list[str | None]] = [[] for _ in header]
        numbers, raw_lines, malformed = [], [], []
        for number, line in chunk:
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_constant=_not_json, parse_float=_json_number, parse_int=_json_number)
            except json.JSONDecodeError as error:
                malformed.append(MalformedRecord(number, f"malformed JSON: {error.msg}", {"line": line}))
                continue
            if not isinstance(record, dict):
                malformed.append(MalformedRecord(number, "malformed JSON: not an object", {"line": line}))
                continue
            keys_seen.update(record)
            numbers.append(number)
            raw_lines.append(line)
            for column, name in zip(values, header):
                column.append(_json_text(record.get(name)))
        records = _string_batch([pa.array(column, pa.string()) for column in values], header)
        yield TextBatch(records, pa.array(numbers, pa.int64()), pa.array(raw_lines, pa.string()), malformed)
    # A key no record has is a missing column; one that only some records lack is a missing value.
    if keys_seen:
        _reject_missing_columns(sorted(keys_seen), mapping)


def _not_json(constant: str):
    """Python reads NaN and Infinity, which are not JSON (and which PostgreSQL's jsonb refuses)."""
    raise json.JSONDecodeError(f"{constant} is not a JSON value", constant, 0)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    with open_bytes(path) as raw:
        for number, line in enumerate(raw, start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            try:
                yield number, line.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise FileRejected(f"not valid UTF-8 at line {number}: {error}") from error


def _json_number(text: str) -> Decimal:
    """A JSON number as a decimal, with the digits it was written with (a float would turn 0.1 into
    0.1000000000000000055...)."""
    number = Decimal(text)
    if not number.is_zero() and abs(number.adjusted()) > MAX_JSON_EXPONENT:
        raise json.JSONDecodeError(f"the number {text[:20]} is out of range", text, 0)
    return number


def _json_text(value) -> str | None:
    """A JSON value as the text a CSV would hold it in: a number as a plain decimal (`2.0` is `2`,
    `1e-07` is `0.0000001`), `true`/`false`, an object or array as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, bool | dict | list):
        return json.dumps(value, default=float)
    return str(value)


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(path: Path, mapping: SourceMapping) -> RecordStream:
    if path.stat().st_size == 0:
        raise FileRejected("empty file: 0 bytes")
    with _parquet_file(path) as parquet:
        header = parquet.schema_arrow.names
    _reject_missing_columns(header, mapping)
    # Only the columns the mapping reads: others may hold what has no text form (structs, lists).
    wanted = set(mapping.export_columns())
    read = [name for name in header if name.strip() in wanted]
    return RecordStream(read, _parquet_batches(path, read))


@contextlib.contextmanager
def _parquet_file(path: Path) -> Iterator[pq.ParquetFile]:
    """The file opened as Parquet, closed afterwards; what Arrow cannot read in it rejects the file."""
    source = _arrow_source(path)
    try:
        with pq.ParquetFile(source) as parquet:
            yield parquet
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
        raise FileRejected(f"unreadable Parquet file: {error}") from error
    finally:
        if not isinstance(source, str):
            source.close()


def _parquet_batches(path: Path, columns: list[str]) -> Iterator[TextBatch]:
    first_line = 1
    with _parquet_file(path) as parquet:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            records = _string_batch(
                [_parquet_text(column, name) for column, name in zip(batch.columns, columns, strict=True)], columns
            )
            yield TextBatch(records, pa.array(np.arange(first_line, first_line + batch.num_rows, dtype=np.int64)))
            first_line += batch.num_rows


def _parquet_text(column: pa.Array, name: str) -> pa.Array:
    """A typed column as the text a CSV would hold: decimals keep their digits, timestamps are ISO
    8601 (with their offset if they have a time zone), floats plain decimals."""
    kind = column.type
    if pa.types.is_nested(kind):
        raise FileRejected(f"column {name} holds {kind}, not one value per row")
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        # pandas writes nanoseconds; timestamps are read to the microsecond, as PostgreSQL keeps them.
        column = column.cast(pa.timestamp("us", kind.tz), safe=False)
    if pa.types.is_floating(kind):
        return _float_text(column)
    return pc.cast(column, pa.string())


def _float_text(floats: pa.Array) -> pa.Array:
    """Floats as plain decimal text. Arrow writes tiny ones with an exponent (`1e-7`), which no amount
    pattern reads: those become decimals of 8 places, the most an amount is computed with (a unit
    price is stored to the cent). Huge ones keep theirs: they exceed every column's limit anyway."""
    text = pc.cast(floats, pa.string())
    tiny = pc.fill_null(pc.and_(pc.match_substring(text, "e-"), pc.less(pc.abs(floats), 1)), False)
    if not pc.any(tiny).as_py():
        return text
    hundred_millionths = pc.cast(pc.round(pc.multiply(pc.abs(floats), 1e8)), pa.int64())
    sign = pc.if_else(pc.less(floats, 0), "-", "")
    plain = pc.binary_join_element_wise(sign, "0.", pc.utf8_lpad(pc.cast(hundred_millionths, pa.string()), 8, "0"), "")
    return pc.if_else(tiny, pc.replace_substring_regex(plain, r"\.?0+$", ""), text)
