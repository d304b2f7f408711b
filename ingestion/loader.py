"""Load landed order files into `raw.order_lines`, exactly once, atomically per file.

How a file is loaded, and why:
1. It is read in batches of text records (readers.py), so memory stays flat whatever its size.
2. Each batch is mapped (renames, constants, ids, countries, rules), validated and typed with
   vectorised Arrow compute. PostgreSQL only receives the results, by COPY, its fastest way in:
   good rows into a new table that becomes the file's partition of `raw.order_lines`, each bad row
   into `quarantine.order_lines` with its line number, the raw row and the first reason it failed.
   A worker thread prepares batch k+1 while PostgreSQL ingests batch k, so the Python process and
   the server work side by side.
3. Its order_id index is built then, in one sorted pass, where keeping it up row by row would cost
   the COPY half its speed.
4. The file's order parts replace their earlier lines (CONTRACT.md, "Corrections"), found through the
   order directory (schema.sql) in the partitions that hold them. Then the table is attached as the
   file's partition.
Steps 1-4 and the manifest row are one transaction: a crash leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pycountry
from psycopg import sql
from psycopg.copy import LibpqWriter

from ingestion.readers import FileRejected, TextBatch, read_records
from ingestion.sources import CONTRACT_COLUMNS, MappingError, SourceMapping, mapping_for

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
# One loader at a time per warehouse: two runs must not interleave replacements of the same order.
LOAD_LOCK_KEY = 7_310_001
APPLICATION_NAME = "ecom-ingestion"
HASH_CHUNK_BYTES = 1 << 20
FUTURE_TOLERANCE = timedelta(days=1)
# PostgreSQL only finds text it cannot store (a NUL character: a UTF-16 file read as UTF-8) on COPY.
UNSTORABLE_TEXT_SQLSTATES = ("22021", "22P05")  # character_not_in_repertoire, untranslatable_character


@dataclass(frozen=True)
class FileResult:
    file_name: str
    status: str  # loaded | rejected | skipped
    rows_loaded: int = 0
    rows_quarantined: int = 0
    orders_replaced: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class LoadSummary:
    files: list[FileResult]

    def count(self, status: str) -> int:
        return sum(1 for result in self.files if result.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(result.rows_loaded for result in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(result.rows_quarantined for result in self.files)

    @property
    def seconds(self) -> float:
        return sum(result.seconds for result in self.files)


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute(SCHEMA_SQL.read_text())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def landed_files(landing_dir: Path) -> list[Path]:
    """Files in name order: exports are named by date, so corrections load after what they correct."""
    return sorted(path for path in landing_dir.rglob("*") if path.is_file() and not path.name.startswith("."))


def unloaded_files(conninfo: str, paths: list[Path], mappings: list[SourceMapping]) -> list[Path]:
    """Those of `paths` that have a source mapping and whose content is not in the manifest yet."""
    with psycopg.connect(conninfo) as conn:
        ensure_schema(conn)
        known = {(row[0], row[1]) for row in conn.execute("select content_sha256, source from ops.ingested_files")}
    return [
        path
        for path in paths
        if (mapping := mapping_for(path, mappings)) is not None and (file_sha256(path), mapping.name) not in known
    ]


def load_landing(
    conninfo: str,
    landing_dir: Path,
    mappings: list[SourceMapping],
    on_file: Callable[[FileResult], None] | None = None,
) -> LoadSummary:
    """Load every new file under `landing_dir`; files already in the manifest are skipped."""
    results = []
    with psycopg.connect(conninfo, autocommit=True, application_name=APPLICATION_NAME) as conn:
        ensure_schema(conn)
        for path in landed_files(landing_dir):
            mapping = mapping_for(path, mappings)
            if mapping is None:
                result = FileResult(path.name, "skipped", error="no source mapping matches this file name")
            else:
                result = load_file(conn, path, mapping)
            results.append(result)
            if on_file:
                on_file(result)
    return LoadSummary(results)


def load_file(conn: psycopg.Connection, path: Path, mapping: SourceMapping, sha: str | None = None) -> FileResult:
    started = time.monotonic()
    sha = sha or file_sha256(path)
    already = conn.execute(
        "select file_name, status from ops.ingested_files where content_sha256 = %s and source = %s", (sha, mapping.name)
    ).fetchone()
    if already:
        return FileResult(path.name, "skipped", error=f"same content as {already[0]} ({already[1]})")
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            # Safe for exactly-once: a commit lost in a crash loses its manifest row too, so the file reloads.
            conn.execute("set local synchronous_commit = off")
            # ordered_at is sent as UTC wall-clock time (see INSTANT).
            conn.execute("set local time zone 'UTC'")
            file_id = _register(conn, path, sha, mapping, status="loaded")
            loaded, quarantined, replaced = _load_rows(conn, path, mapping, file_id)
            conn.execute(
                "update ops.ingested_files set rows_loaded = %s, rows_quarantined = %s, orders_replaced = %s,"
                " finished_at = clock_timestamp() where file_id = %s",
                (loaded, quarantined, replaced, file_id),
            )
    except (FileRejected, MappingError) as rejection:
        with conn.transaction():
            _register(conn, path, sha, mapping, status="rejected", error=str(rejection))
        return FileResult(path.name, "rejected", seconds=time.monotonic() - started, error=str(rejection))
    return FileResult(path.name, "loaded", loaded, quarantined, replaced, time.monotonic() - started)


def _register(
    conn: psycopg.Connection, path: Path, sha: str, mapping: SourceMapping, *, status: str, error: str | None = None
) -> int:
    row = conn.execute(
        "insert into ops.ingested_files (file_name, content_sha256, source, status, error, started_at)"
        " values (%s, %s, %s, %s, %s, now()) returning file_id",
        (path.name, sha, mapping.name, status, error),
    ).fetchone()
    return row[0]


# --- streaming into PostgreSQL -----------------------------------------------------------------

# Created by the load's transaction, so that COPY can freeze its rows and skip index upkeep.
# The check lets the attachment know the partition bound holds without scanning the rows again; the
# defaults spare COPY the columns that are the same on every row of the file.
CREATE_FILE_TABLE = """
create table {file_table} (like raw.order_lines including defaults including constraints, check (file_id = {file_id}));
alter table {file_table} alter column file_id set default {file_id}, alter column source set default {source};
"""
# Built once, sorted, after the COPY; the attachment then takes it as the partition's copy of
# raw.order_lines' order_id index. The directory lookup reads the file's order ids through it.
INDEX_FILE_TABLE = "create index on {file_table} (order_id)"
# Last: the file's own lines are not yet among those its corrections delete, and the deletions have
# already read the partition list the attachment needs (reading it again costs time with every
# partition).
ATTACH_FILE_TABLE = "alter table raw.order_lines attach partition {file_table} for values from ({file_id}) to ({next_file_id})"
# Corrections (CONTRACT.md) go through the order directory, raw.order_id_blocks and raw.order_parts
# (schema.sql), so that a load looks up and deletes only what it replaces, in the partitions that hold
# it, whatever the number of partitions.
#
# First, where the file stands in the directory: its greatest order id, the greatest order id the
# directory places at or below that one (the file's ids above it are new to the warehouse), and
# whether an earlier file's block encloses the file's greatest id (then its ids are not new either).
FILE_IN_DIRECTORY = """
with file_top as (select max(order_id) as order_id from {file_table})
select
    greatest(
        (select max(order_id) from raw.order_parts where order_id <= file_top.order_id),
        (select max(last_order_id) from raw.order_id_blocks where last_order_id <= file_top.order_id)
    ),
    coalesce((
        -- Blocks do not overlap: the first one ending at or after an order id is the only one that may
        -- hold it.
        select first_order_id <= file_top.order_id from raw.order_id_blocks
        where last_order_id >= file_top.order_id
        order by last_order_id
        limit 1
    ), false)
from file_top
"""
# The file's order ids above those the directory places become the file's block: nothing earlier
# lies between them, so these parts are new, and recording them costs one row.
OPEN_BLOCK = """
insert into raw.order_id_blocks (file_id, first_order_id, last_order_id)
select {file_id}, min(order_id), max(order_id) from {file_table} where {new_order_ids}
having min(order_id) is not null  -- not count(*): min() and max() each read one index entry
"""
# The file's other order parts: each is placed by its row in raw.order_parts, else by the block
# around its order id; it takes over (or gets) its row, and the parts placed earlier come back
# grouped by the file placing them. All parts of one statement read the same snapshot, so `placed`
# sees the directory as it was before `claimed`.
CLAIM_ORDER_PARTS = """
with file_parts as (
    select distinct order_id, quantity > 0 as is_sale from {file_table} where {old_order_ids}
),
placed as (
    select file_parts.order_id, file_parts.is_sale, coalesce(part.file_id, block.file_id) as earlier_file_id
    from file_parts
    left join raw.order_parts as part using (order_id, is_sale)
    left join lateral (
        select blocks.file_id, blocks.first_order_id from raw.order_id_blocks as blocks
        where blocks.last_order_id >= file_parts.order_id
        order by blocks.last_order_id
        limit 1
    ) as block on block.first_order_id <= file_parts.order_id
),
claimed as (
    insert into raw.order_parts (order_id, is_sale, file_id)
    select order_id, is_sale, {file_id} from file_parts
    on conflict (order_id, is_sale) do update set file_id = excluded.file_id
)
select earlier_file_id, array_agg(order_id), array_agg(is_sale)
from placed where earlier_file_id is not null
group by earlier_file_id
"""
# One statement per earlier file: its constant file id lets the planner keep the one partition
# holding the file (pruning at plan time, which locks and plans nothing else), and each part is looked
# up there only. A block also places order ids its file does not have: only the orders whose lines
# were there count as replaced.
DELETE_REPLACED_LINES = """
with removed as (
    delete from raw.order_lines as lines
    using unnest(%s::text[], %s::boolean[]) as resent (order_id, is_sale)
    where lines.file_id = {earlier_file_id} and lines.order_id = resent.order_id collate "C"
        and (lines.quantity > 0) = resent.is_sale
    returning lines.order_id
)
select array_agg(distinct order_id) from removed
"""


class _Copy(NamedTuple):
    """Rows for one COPY, already written as CSV by the worker thread."""

    statement: sql.Composable
    rows: int
    csv: pa.Buffer


class _PreparedBatch(NamedTuple):
    order_lines: _Copy  # the good rows, into the file's partition of raw.order_lines
    quarantined: _Copy  # the bad and malformed rows, into quarantine.order_lines


def _load_rows(conn: psycopg.Connection, path: Path, mapping: SourceMapping, file_id: int) -> tuple[int, int, int]:
    """Stream the file's checked rows into PostgreSQL. Returns (rows loaded, rows quarantined, orders replaced)."""
    stream = read_records(path, mapping)
    latest_ordered_at = pa.scalar(datetime.now(UTC).replace(tzinfo=None) + FUTURE_TOLERANCE, INSTANT)
    names = {"file_table": sql.Identifier("raw", f"order_lines_file_{file_id}"), "file_id": sql.Literal(file_id)}
    conn.execute(sql.SQL(CREATE_FILE_TABLE).format(**names, source=sql.Literal(mapping.name)))
    checks = _BatchChecks(mapping, _column_positions(stream.header, mapping), latest_ordered_at, file_id, path.name, names["file_table"])
    loaded = quarantined = 0
    for prepared in _read_ahead(checks.prepare(batch) for batch in stream.batches):
        for copy in prepared:
            _send(conn, copy)
        loaded += prepared.order_lines.rows
        quarantined += prepared.quarantined.rows
    if not loaded:  # a file of bad rows only adds no partition
        conn.execute(sql.SQL("drop table {file_table}").format(**names))
        return loaded, quarantined, 0
    conn.execute(sql.SQL(INDEX_FILE_TABLE).format(**names))
    # Statistics for the planner: the directory lookup reads a few or all of the file's order parts
    # (by index or by scan), and dbt's next build reads the partition before autovacuum analyses it.
    conn.execute(sql.SQL("analyze {file_table} (order_id, quantity)").format(**names))
    replaced = _replace_earlier_lines(conn, names)
    conn.execute(sql.SQL(ATTACH_FILE_TABLE).format(**names, next_file_id=sql.Literal(file_id + 1)))
    return loaded, quarantined, replaced


def _replace_earlier_lines(conn: psycopg.Connection, names: dict[str, sql.Composable]) -> int:
    """Record the file's order parts in the order directory and delete their earlier lines from the
    partitions it names. Returns the number of orders replaced."""
    placed_up_to, top_enclosed = conn.execute(sql.SQL(FILE_IN_DIRECTORY).format(**names)).fetchone()
    if top_enclosed:
        old_order_ids = sql.SQL("true")  # no new block: every part is looked up
    else:
        above = sql.SQL("true") if placed_up_to is None else sql.SQL("order_id > {}").format(sql.Literal(placed_up_to))
        conn.execute(sql.SQL(OPEN_BLOCK).format(**names, new_order_ids=above))
        if placed_up_to is None:
            return 0  # the whole file is new
        old_order_ids = sql.SQL("order_id <= {}").format(sql.Literal(placed_up_to))
    claim = sql.SQL(CLAIM_ORDER_PARTS).format(**names, old_order_ids=old_order_ids)
    earlier_parts = conn.execute(claim).fetchall()
    # The deletions go in one round trip; each still plans only its own partition.
    with conn.pipeline():
        deletions = [
            conn.execute(sql.SQL(DELETE_REPLACED_LINES).format(earlier_file_id=sql.Literal(file_id)), (order_ids, is_sale))
            for file_id, order_ids, is_sale in earlier_parts
        ]
    return len({order_id for deletion in deletions for order_id in deletion.fetchone()[0] or ()})


T = TypeVar("T")


def _read_ahead(items: Generator[T, None, None]) -> Iterator[T]:
    """`items`, each next one computed by a worker thread while the caller still uses the current one:
    Python prepares batch k+1 (Arrow releases the GIL) while PostgreSQL ingests batch k. One item
    ahead is enough for that, and keeps memory bounded."""
    finished = object()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingestion-read-ahead") as worker:
            upcoming = worker.submit(next, items, finished)
            while (item := upcoming.result()) is not finished:
                upcoming = worker.submit(next, items, finished)
                yield item
    finally:
        items.close()


def _copy_of(table: sql.Identifier, rows: pa.Table, *, freeze: bool = False) -> _Copy:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(rows, sink, pa_csv.WriteOptions(include_header=False))
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
    # Frozen rows need no hint bits set, nor vacuum's freezing, on their first reads later.
    options = sql.SQL("format csv, freeze true" if freeze else "format csv")
    statement = sql.SQL("copy {} ({}) from stdin with ({})").format(table, columns, options)
    return _Copy(statement, rows.num_rows, sink.getvalue())


def _send(conn: psycopg.Connection, copy: _Copy) -> None:
    if not copy.rows:
        return
    cursor = conn.cursor()
    try:
        # The synchronous writer: the overlap with Python already comes from _read_ahead, and
        # psycopg's default writer would queue copies of the data.
        with cursor.copy(copy.statement, writer=LibpqWriter(cursor)) as stream:
            stream.write(memoryview(copy.csv))
    except psycopg.errors.DataError as error:
        if error.sqlstate not in UNSTORABLE_TEXT_SQLSTATES:
            raise
        raise FileRejected(f"text PostgreSQL cannot store (is the declared encoding right?): {error.diag.message_primary}") from error


# --- mapping and validation, one batch at a time -----------------------------------------------

NULL_TEXT = pa.scalar(None, pa.string())
# Instants are UTC wall-clock times without a zone (the load's session is in UTC): Arrow writes those
# as text some thirty times faster than zoned ones.
INSTANT = pa.timestamp("us")
NULL_INSTANT = pa.scalar(None, INSTANT)
FIRST_INSTANT = pa.scalar(datetime(1, 1, 1), INSTANT)  # PostgreSQL has no year 0
ISO_CURRENCIES = pa.array(sorted(currency.alpha_3 for currency in pycountry.currencies))

FLOAT_ID = r"^([0-9]+)\.0+$"
INTEGER = r"^[+-]?[0-9]{1,9}$"  # fits an `integer`
ZERO = r"^[+-]?0+$"
DECIMAL = r"^[+-]?[0-9]{1,10}([.][0-9]+)?$"  # numeric(12, 2) holds 10 digits before the point
NEGATIVE = r"^-.*[1-9]"  # "-0.00" is zero
# ISO 8601 as PostgreSQL and Arrow both read it: a date, optionally a time, optionally an offset.
ISO_TIMESTAMP = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$"
)


@dataclass(frozen=True)
class _BatchChecks:
    """Maps, validates and types one file's batches, and writes them as CSV for COPY."""

    mapping: SourceMapping
    positions: dict[str, int | None]  # contract column -> the file's column holding it
    latest_ordered_at: pa.TimestampScalar  # anything later is in the future
    file_id: int
    file_name: str
    file_table: sql.Identifier  # the file's partition of raw.order_lines, created by this load

    def prepare(self, batch: TextBatch) -> _PreparedBatch:
        values = _mapped_values(batch.records, self.positions, self.mapping)
        instants = _instants(values["ordered_at"], self.mapping)
        reasons = _first_failures(values, instants, self.latest_ordered_at)
        good = pc.is_null(reasons)
        lines = _order_lines(values, instants, batch.source_lines)
        if reasons.null_count < len(reasons):  # filtering costs even when every row is good
            lines = lines.filter(good)
        return _PreparedBatch(
            _copy_of(self.file_table, lines, freeze=True),
            _copy_of(sql.Identifier("quarantine", "order_lines"), self._quarantined(batch, pc.invert(good), reasons)),
        )

    def _quarantined(self, batch: TextBatch, bad: pa.Array, reasons: pa.Array) -> pa.Table:
        if batch.raw_records is not None:
            raw_rows = batch.raw_records.filter(bad).to_pylist()
        else:
            raw_rows = _as_json_objects(batch.records.filter(bad))
        lines = batch.source_lines.filter(bad).to_pylist() + [record.source_line for record in batch.malformed]
        reason_texts = reasons.filter(bad).to_pylist() + [record.reason for record in batch.malformed]
        raw_rows += [json.dumps(record.raw, ensure_ascii=False) for record in batch.malformed]
        return pa.table(
            {
                "file_id": pa.repeat(self.file_id, len(lines)),
                "file_name": pa.repeat(self.file_name, len(lines)),
                "source_line": pa.array(lines, pa.int64()),
                "reason": pa.array(reason_texts, pa.string()),
                "raw_row": pa.array(raw_rows, pa.string()),
            }
        )


def _column_positions(header: list[str], mapping: SourceMapping) -> dict[str, int | None]:
    names = [name.strip() for name in header]
    return {
        column: names.index(name) if (name := mapping.export_column(column)) in names else None for column in CONTRACT_COLUMNS
    }


def _mapped_values(records: pa.RecordBatch, positions: dict[str, int | None], mapping: SourceMapping) -> dict[str, pa.Array]:
    """Each contract column after the mapping, as text; null where empty."""
    values = {}
    for column in CONTRACT_COLUMNS:
        if column in mapping.constants:
            value = pa.repeat(mapping.constants[column], records.num_rows)
        elif positions[column] is None:
            value = pa.nulls(records.num_rows, pa.string())
        else:
            value = _null_if_blank(records.column(positions[column]))
        if column in mapping.normalise_ids:
            # Spreadsheet exports turn ids into floats: "17850.0" is customer 17850.
            value = pc.replace_substring_regex(value, FLOAT_ID, r"\1")
        values[column] = value
    if mapping.csv.decimal_separator != ".":
        values["unit_price"] = pc.replace_substring(values["unit_price"], mapping.csv.decimal_separator, ".")
    if mapping.country_names:
        values["country"] = _country_codes(values["country"], mapping.country_names)
    if mapping.default_currency:
        values["currency"] = pc.fill_null(values["currency"], mapping.default_currency)
    for rule in mapping.rules:
        subject = values[rule.column]
        applies = pc.starts_with(subject, rule.starts_with) if rule.starts_with is not None else pc.equal(subject, str(rule.equals))
        values[rule.target] = pc.if_else(pc.fill_null(applies, False), rule.value, values[rule.target])
    # Codes in upper case, categories of status and channel in lower case (after the rules, which see the export's values).
    for column in ("currency", "country"):
        values[column] = pc.utf8_upper(values[column])
    for column in ("status", "channel"):
        values[column] = pc.utf8_lower(values[column])
    return values


def _null_if_blank(texts: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim(texts, " ")
    return pc.if_else(pc.equal(trimmed, ""), NULL_TEXT, trimmed)


def _country_codes(countries: pa.Array, names: dict[str, str | None]) -> pa.Array:
    """Country names the mapping knows, as their codes; a name mapped to null is no country at all."""
    position = pc.index_in(countries, value_set=pa.array(list(names), pa.string()))
    codes = pa.array(list(names.values()), pa.string())
    return pc.if_else(pc.is_null(position), countries, pc.take(codes, position))


def _instants(texts: pa.Array, mapping: SourceMapping) -> pa.Array:
    """ordered_at as UTC instants; null where it is not a timestamp."""
    if mapping.timestamp_format:
        parsed = pc.strptime(texts, format=mapping.timestamp_format, unit="us", error_is_null=True)
        # With %z in the format the offset is in the text; without, it is the source's time zone.
        instants = parsed.cast(INSTANT) if parsed.type.tz else _local_to_utc(parsed, mapping.timezone)
    else:
        instants = _iso_instants(texts, mapping.timezone)
    return pc.if_else(pc.less(instants, FIRST_INSTANT), NULL_INSTANT, instants)


def _iso_instants(texts: pa.Array, time_zone: str) -> pa.Array:
    # Words such as 'yesterday' fail the pattern.
    candidates = pc.if_else(pc.match_substring_regex(texts, ISO_TIMESTAMP), texts, NULL_TEXT)
    try:
        return _cast_iso(candidates, time_zone)
    except pa.ArrowInvalid:  # the pattern lets through a day past its month's end, such as 2025-02-30
        return _cast_iso(_without_impossible_days(candidates), time_zone)


def _cast_iso(candidates: pa.Array, time_zone: str) -> pa.Array:
    # An offset is a trailing Z, a + or a third -, after the date's two.
    with_offset = pc.or_(
        pc.or_(pc.ends_with(candidates, "Z"), pc.match_substring(candidates, "+")),
        pc.greater(pc.count_substring(candidates, "-"), 2),
    )
    offset_instants = pc.cast(pc.if_else(with_offset, candidates, NULL_TEXT), pa.timestamp("us", "UTC")).cast(INSTANT)
    local_times = pc.cast(pc.if_else(with_offset, NULL_TEXT, candidates), INSTANT)
    return pc.coalesce(offset_instants, _local_to_utc(local_times, time_zone))


def _without_impossible_days(candidates: pa.Array) -> pa.Array:
    """strptime rolls a day past its month's end over into the next month, which gives it away."""
    dates = pc.strptime(pc.utf8_slice_codeunits(candidates, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True)
    day_exists = pc.equal(pc.day(dates), pc.cast(pc.utf8_slice_codeunits(candidates, 8, 10), pa.int64()))
    return pc.if_else(day_exists, candidates, NULL_TEXT)


def _local_to_utc(local_times: pa.Array, time_zone: str) -> pa.Array:
    """Wall-clock times in `time_zone` as UTC, read as PostgreSQL reads them: an ambiguous time
    (clocks set back) is the later instant, in standard time; a time that clocks set forward skipped
    takes the offset in force before the jump."""
    zoned = pc.assume_timezone(local_times, time_zone, ambiguous="latest", nonexistent="earliest")
    # `zoned` has the offset wanted in every case: for a skipped time it is the last instant before the jump.
    offset = pc.subtract(pc.local_timestamp(zoned), zoned.cast(INSTANT))
    return pc.subtract(local_times, offset)


def _first_failures(values: dict[str, pa.Array], instants: pa.Array, latest_ordered_at: pa.TimestampScalar) -> pa.Array:
    """The reason each row is quarantined for, the first check it fails (CONTRACT.md); null if none."""
    quantity, unit_price, currency = values["quantity"], values["unit_price"], values["currency"]
    checks = {
        "missing order_id": pc.is_null(values["order_id"]),
        "missing ordered_at": pc.is_null(values["ordered_at"]),
        "missing product_id": pc.is_null(values["product_id"]),
        "missing quantity": pc.is_null(quantity),
        "quantity is not an integer": pc.invert(pc.match_substring_regex(quantity, INTEGER)),
        "quantity is zero": pc.match_substring_regex(quantity, ZERO),
        "missing unit_price": pc.is_null(unit_price),
        "unit_price is not a number": pc.invert(pc.match_substring_regex(unit_price, DECIMAL)),
        "unit_price is negative": pc.match_substring_regex(unit_price, NEGATIVE),
        "ordered_at is not a timestamp": pc.is_null(instants),
        "ordered_at is in the future": pc.greater(instants, latest_ordered_at),
        "missing currency": pc.is_null(currency),
        "unknown currency code": pc.invert(pc.is_in(currency, value_set=ISO_CURRENCIES)),
    }
    # A check on a missing value is null, which case_when takes as false: the "missing" check came first.
    failed = pa.StructArray.from_arrays(list(checks.values()), names=list(checks))
    return pc.case_when(failed, *(pa.scalar(reason) for reason in checks))


def _order_lines(values: dict[str, pa.Array], instants: pa.Array, source_lines: pa.Array) -> pa.Table:
    """Rows for the file's partition of raw.order_lines (which fills in source and file_id itself).
    quantity and unit_price stay the validated text: PostgreSQL types them exactly, and numbers never
    pass through a float."""
    columns = {column: values[column] for column in CONTRACT_COLUMNS} | {"ordered_at": instants}
    return pa.table(columns | {"source_line": source_lines})


def _as_json_objects(records: pa.RecordBatch) -> list[str]:
    """Each record as a JSON object keyed by the file's own column names."""
    names = records.schema.names
    rows = zip(*(column.to_pylist() for column in records.columns))
    return [json.dumps(dict(zip(names, row)), ensure_ascii=False) for row in rows]
