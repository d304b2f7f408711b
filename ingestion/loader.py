"""Load landed order files into `raw.order_lines`, exactly once, atomically per file.

How a file is loaded, and why:
1. Its header decides which source mapping reads it (sources.py). It is read in batches of text
   records (readers.py), so memory stays flat whatever its size.
2. Each batch is mapped, validated and typed with vectorised Arrow compute (transform.py).
   PostgreSQL only receives the results, by COPY, its fastest way in: good rows into a new table
   that becomes the file's partition of `raw.order_lines`, each bad row into
   `quarantine.order_lines` with its line number, the raw row and the first reason it failed. A
   worker thread prepares batch k+1 while PostgreSQL ingests batch k, so the Python process and the
   server work side by side.
3. A file with more quarantined rows than its source allows is rejected whole, with its top reasons.
4. Its order_id index is built then, in one sorted pass, where keeping it up row by row would cost
   the COPY half its speed.
5. The file's order parts replace their earlier lines (CONTRACT.md, "Corrections"), found through the
   order directory (schema.sql) in the partitions that hold them. Then the table is attached as the
   file's partition.
Steps 2-5 and the manifest row are one transaction: a crash leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg.copy import LibpqWriter

from ingestion.readers import FileRejected, TextBatch, read_header, read_records
from ingestion.sources import (
    MappingError,
    MappingSet,
    SourceMapping,
    display_name,
    readable,
)
from ingestion.transform import INSTANT, BatchMapper, ValueRules

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
# One loader at a time per warehouse: two runs must not interleave replacements of the same order.
LOAD_LOCK_KEY = 7_310_001
SCHEMA_LOCK_KEY = 7_310_002
APPLICATION_NAME = "ecom-ingestion"
HASH_CHUNK_BYTES = 1 << 20
FUTURE_TOLERANCE = timedelta(days=1)
# PostgreSQL only finds text it cannot store (a NUL character: a UTF-16 file read as UTF-8) on COPY.
UNSTORABLE_TEXT_SQLSTATES = ("22021", "22P05")  # character_not_in_repertoire, untranslatable_character
RELOAD_HINT = "ecom ingest --reload"


@dataclass(frozen=True)
class FileResult:
    file_name: str
    # loaded | rejected | skipped | unmatched (no mapping reads it) | waiting (still being written) | refused (not read)
    status: str
    rows_loaded: int = 0
    rows_quarantined: int = 0
    orders_replaced: int = 0
    seconds: float = 0.0
    error: str | None = None  # why it was not loaded
    source: str | None = None
    top_reasons: list[tuple[str, int, int]] = field(default_factory=list)  # (quarantine reason, rows, example line)
    # Lines loaded dated after the last ECB rate publication: converted at its rates.
    lines_after_last_rate: int = 0


@dataclass(frozen=True)
class LoadSummary:
    files: list[FileResult]
    mapping_errors: list[str] = field(default_factory=list)

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

    @property
    def lines_after_last_rate(self) -> int:
        return sum(result.lines_after_last_rate for result in self.files)

    @property
    def problems(self) -> list[FileResult]:
        """The files a person should look at: rejected, unmatched, refused, or loaded with quarantined rows."""
        return [
            r
            for r in self.files
            if r.status in ("rejected", "unmatched", "refused") or (r.status == "loaded" and r.rows_quarantined)
        ]

    def top_reasons(self, count: int = 5) -> list[tuple[str, int]]:
        """The most frequent quarantine reasons over the loaded files."""
        totals: dict[str, int] = {}
        for result in self.files:
            for reason, rows, _ in result.top_reasons:
                totals[reason] = totals.get(reason, 0) + rows
        return sorted(totals.items(), key=lambda item: -item[1])[:count]


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        # Two loaders starting at once on a new warehouse would both create its tables, and one fail.
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        conn.execute(SCHEMA_SQL.read_text())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Landing:
    """What a landing folder holds: the files to load, and the entries that are not (yet), with why."""

    files: list[Path]  # regular files, unchanged for the stable time, in name order
    waiting: dict[Path, float]  # changed less than the stable time ago (seconds since): still being written
    refused: dict[Path, str]  # neither read nor followed: symbolic links, special files, folders that cannot be listed

    def results(self, stable_seconds: float) -> list[FileResult]:
        """The waiting and refused entries, reported as a load reports files."""
        waiting = [
            FileResult(
                display_name(path),
                "waiting",
                error=f"still being written (changed {age:.1f} s ago): loaded once unchanged for {stable_seconds:g} s",
            )
            for path, age in self.waiting.items()
        ]
        return waiting + [FileResult(display_name(path), "refused", error=why) for path, why in self.refused.items()]


def scan_landing(landing_dir: Path, stable_seconds: float = 0) -> Landing:
    """The files under `landing_dir`, in name order (exports are named by date, so corrections load
    after what they correct). Names starting with a dot are ignored: upload tools write their partial
    files so. Only what is inside the folder is read: a symbolic link, to a file or a folder, is
    refused, not followed, and so is anything that is not a regular file (a named pipe would block a
    reader for ever). A file whose inode changed less than `stable_seconds` ago is still being
    written: it waits. The inode's change time (ctime) moves with every write, also with one that
    then sets an old modification time, as `cp -p` does."""
    files: list[Path] = []
    waiting: dict[Path, float] = {}
    refused: dict[Path, str] = {}

    def unlistable(error: OSError) -> None:
        refused[Path(error.filename)] = f"cannot be listed: {error.strerror}"

    now = time.time()
    for folder, subfolders, names in os.walk(landing_dir, onerror=unlistable):
        # os.walk lists a link to a folder among the folders, and does not descend into it.
        links = [name for name in subfolders if os.path.islink(os.path.join(folder, name))]
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in links]
        for name in [*links, *names]:
            if name.startswith("."):
                continue
            path = Path(folder, name)
            try:
                status = path.lstat()
            except FileNotFoundError:  # gone since the folder was listed
                continue
            if stat.S_ISLNK(status.st_mode):
                refused[path] = (
                    f"a symbolic link (to {readable(os.readlink(path))}): not followed; put the file itself in the landing folder"
                )
            elif not stat.S_ISREG(status.st_mode):
                refused[path] = "not a regular file (a named pipe, socket or device): not read"
            elif now - status.st_ctime < stable_seconds:
                waiting[path] = max(now - status.st_ctime, 0.0)
            else:
                files.append(path)
    return Landing(sorted(files), dict(sorted(waiting.items())), dict(sorted(refused.items())))


def choose_mapping(path: Path, mappings: MappingSet):
    """Which mapping reads `path`, and why (sources.MappingSet.choose), by the file's header."""
    return mappings.choose(path, read_header)


def mapping_for(path: Path, mappings: MappingSet) -> SourceMapping | None:
    return choose_mapping(path, mappings).mapping


def _previous_load(conn: psycopg.Connection, sha: str, mapping: SourceMapping) -> str | None:
    """Why a file with this content need not be loaded again, or None if it must be loaded: it was
    loaded already (whatever its name), or rejected by this same version of its mapping."""
    row = conn.execute(
        "select file_name, status, mapping_version, error from ops.ingested_files"
        " where content_sha256 = %s and source = %s and (status = 'loaded' or mapping_version = %s)"
        " order by status = 'loaded' desc, file_id desc limit 1",
        (sha, mapping.name, mapping.version),
    ).fetchone()
    if row is None:
        return None
    name, status, version, error = row
    if status == "loaded":
        return f"already loaded as {name} (mapping {mapping.name}@{version}); `{RELOAD_HINT} FILE` loads it again"
    return f"rejected before by mapping {mapping.name}@{version}: {error}; fix the file or the mapping (`ecom preview FILE`) to retry"


@dataclass(frozen=True)
class PendingFiles:
    """What a run would do with some landed files, found without loading them."""

    to_load: list[Path]  # content the manifest has neither loaded nor rejected by its mapping's current version
    to_report: dict[Path, str]  # no mapping reads it, or it cannot be read: a run can only report it
    skipped: dict[Path, str]  # the manifest has it already: why a run would skip it


def pending_files(conninfo: str, paths: list[Path], mappings: MappingSet) -> PendingFiles:
    """What a run would do with each of `paths`, by their headers and the manifest (ops.ingested_files)."""
    pending = PendingFiles([], {}, {})
    with psycopg.connect(conninfo) as conn:
        ensure_schema(conn)
        for path in paths:
            choice = choose_mapping(path, mappings)
            if choice.mapping is None:
                pending.to_report[path] = choice.reason
                continue
            try:
                why = _previous_load(conn, file_sha256(path), choice.mapping)
            except OSError as error:
                pending.to_report[path] = f"cannot be read: {error.strerror or error}"
                continue
            if why is None:
                pending.to_load.append(path)
            else:
                pending.skipped[path] = why
    return pending


def load_landing(
    conninfo: str,
    landing_dir: Path,
    mappings: MappingSet,
    on_file: Callable[[FileResult], None] | None = None,
    reload: frozenset[str] = frozenset(),
    rules: ValueRules = ValueRules(),
    stable_seconds: float = 0,
) -> LoadSummary:
    """Load every new file under `landing_dir`; files already in the manifest are skipped, unless
    their name is in `reload`. Lines outside the value `rules` are quarantined. A file
    that changed less than `stable_seconds` ago is still being written: it is left for a later run
    (0: the caller knows that every file is complete)."""
    landing = scan_landing(landing_dir, stable_seconds)
    if landing.waiting:
        # Most files still being written a moment ago (a copy, an export) are complete a moment
        # later: waiting for them once loads them in this run rather than the next.
        time.sleep(stable_seconds - min(landing.waiting.values()))
        landing = scan_landing(landing_dir, stable_seconds)
    results = landing.results(stable_seconds)
    for result in results:
        if on_file:
            on_file(result)
    with psycopg.connect(conninfo, autocommit=True, application_name=APPLICATION_NAME) as conn:
        ensure_schema(conn)
        for path in landing.files:
            choice = choose_mapping(path, mappings)
            if choice.mapping is None:
                result = FileResult(display_name(path), "unmatched", error=choice.reason)
            else:
                # By its name on disk or as shown (a name with bytes that are not UTF-8 is shown with U+FFFD).
                again = path.name in reload or display_name(path) in reload
                result = load_file(conn, path, choice.mapping, reload=again, rules=rules)
            results.append(result)
            if on_file:
                on_file(result)
    return LoadSummary(results, mappings.errors)


def load_file(
    conn: psycopg.Connection,
    path: Path,
    mapping: SourceMapping,
    sha: str | None = None,
    reload: bool = False,
    rules: ValueRules = ValueRules(),
) -> FileResult:
    started = time.monotonic()
    name = display_name(path)
    try:
        before = file_state(path)
        sha = sha or file_sha256(path)
    except OSError as error:  # gone since the folder was listed, or not readable by this user
        return FileResult(name, "refused", error=f"cannot be read: {error.strerror or error}", source=mapping.name)
    mapper: BatchMapper | None = None
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            # Looked up under the lock: a concurrent loader may just have loaded the same content.
            if not reload and (why := _previous_load(conn, sha, mapping)):
                return FileResult(name, "skipped", error=why, source=mapping.name)
            # Safe for exactly-once: a commit lost in a crash loses its manifest row too, so the file reloads.
            conn.execute("set local synchronous_commit = off")
            # ordered_at is sent as UTC wall-clock time (see INSTANT).
            conn.execute("set local time zone 'UTC'")
            file_id = _register(conn, path, sha, mapping, status="loaded")
            loaded, quarantined, replaced, mapper = _load_rows(conn, path, mapping, file_id, rules)
            conn.execute(
                "update ops.ingested_files set rows_loaded = %s, rows_quarantined = %s, orders_replaced = %s,"
                " finished_at = clock_timestamp() where file_id = %s",
                (loaded, quarantined, replaced, file_id),
            )
            if file_state(path) != before:  # rolls the load back: what was read may be half old, half new
                raise _ChangedWhileLoading
    except _ChangedWhileLoading:
        return _changed_while_loading(name, mapping, started)
    except (FileRejected, MappingError) as rejection:
        if file_state(path) != before:  # perhaps rejected for what was only half written
            return _changed_while_loading(name, mapping, started)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            # A concurrent loader may have rejected the same content since this one looked.
            if not reload and (why := _previous_load(conn, sha, mapping)):
                return FileResult(name, "skipped", error=why, source=mapping.name)
            _register(conn, path, sha, mapping, status="rejected", error=str(rejection))
        reasons = rejection.top_reasons if isinstance(rejection, QuarantineTooLarge) else []
        return FileResult(
            name, "rejected", seconds=time.monotonic() - started, error=str(rejection), source=mapping.name, top_reasons=reasons
        )
    return FileResult(
        name,
        "loaded",
        loaded,
        quarantined,
        replaced,
        time.monotonic() - started,
        source=mapping.name,
        top_reasons=mapper.top_reasons(),
        lines_after_last_rate=mapper.lines_after_last_rate,
    )


class _ChangedWhileLoading(Exception):
    """The file was written to during its load."""


def _changed_while_loading(name: str, mapping: SourceMapping, started: float) -> FileResult:
    why = "changed while it was being loaded: a later run loads it"
    return FileResult(name, "waiting", seconds=time.monotonic() - started, error=why, source=mapping.name)


def file_state(path: Path) -> tuple[int, int, int]:
    """What changes when a file is written to: its size, mtime and ctime. A file gone is a change too."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return (-1, -1, -1)
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _register(
    conn: psycopg.Connection, path: Path, sha: str, mapping: SourceMapping, *, status: str, error: str | None = None
) -> int:
    row = conn.execute(
        "insert into ops.ingested_files (file_name, content_sha256, source, mapping_version, status, error, started_at)"
        " values (%s, %s, %s, %s, %s, %s, now()) returning file_id",
        (display_name(path), sha, mapping.name, mapping.version, status, error),
    ).fetchone()
    return row[0]


class QuarantineTooLarge(FileRejected):
    """More of the file's rows failed than its source allows: the file is rejected whole."""

    def __init__(self, quarantined: int, rows: int, limit: float, top_reasons: list[tuple[str, int, int]]) -> None:
        self.top_reasons = top_reasons
        reasons = "; ".join(f"{reason}: {count:,} (e.g. line {line})" for reason, count, line in top_reasons)
        super().__init__(
            f"{quarantined:,} of {rows:,} rows ({quarantined / rows:.1%}) would be quarantined, more than the"
            f" {limit:.0%} the source allows (max_quarantined_share); top reasons: {reasons}"
        )


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


def _load_rows(
    conn: psycopg.Connection, path: Path, mapping: SourceMapping, file_id: int, rules: ValueRules
) -> tuple[int, int, int, BatchMapper]:
    """Stream the file's checked rows into PostgreSQL. Returns (rows loaded, rows quarantined, orders
    replaced, the mapper with its quarantine tally)."""
    stream = read_records(path, mapping)
    latest_ordered_at = pa.scalar(datetime.now(UTC).replace(tzinfo=None) + FUTURE_TOLERANCE, INSTANT)
    names = {"file_table": sql.Identifier("raw", f"order_lines_file_{file_id}"), "file_id": sql.Literal(file_id)}
    conn.execute(sql.SQL(CREATE_FILE_TABLE).format(**names, source=sql.Literal(mapping.name)))
    mapper = BatchMapper(mapping, stream.header, latest_ordered_at, rules)
    prepare = _BatchCopies(mapper, file_id, display_name(path), names["file_table"]).prepare
    loaded = quarantined = 0
    for prepared in _read_ahead(prepare(batch) for batch in stream.batches):
        for copy in prepared:
            _send(conn, copy)
        loaded += prepared.order_lines.rows
        quarantined += prepared.quarantined.rows
    if mapper.records and quarantined / mapper.records > mapping.spec.max_quarantined_share:
        raise QuarantineTooLarge(quarantined, mapper.records, mapping.spec.max_quarantined_share, mapper.top_reasons())
    if not loaded:  # a file of bad rows only adds no partition
        conn.execute(sql.SQL("drop table {file_table}").format(**names))
        return loaded, quarantined, 0, mapper
    conn.execute(sql.SQL(INDEX_FILE_TABLE).format(**names))
    # Statistics for the planner: the directory lookup reads a few or all of the file's order parts
    # (by index or by scan), and dbt's next build reads the partition before autovacuum analyses it.
    conn.execute(sql.SQL("analyze {file_table} (order_id, quantity)").format(**names))
    replaced = _replace_earlier_lines(conn, names)
    conn.execute(sql.SQL(ATTACH_FILE_TABLE).format(**names, next_file_id=sql.Literal(file_id + 1)))
    return loaded, quarantined, replaced, mapper


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


@dataclass(frozen=True)
class _BatchCopies:
    """Each checked batch written as CSV for COPY: good lines into the file's partition, bad rows into
    quarantine.order_lines."""

    mapper: BatchMapper
    file_id: int
    file_name: str
    file_table: sql.Identifier  # the file's partition of raw.order_lines, created by this load

    def prepare(self, batch: TextBatch) -> _PreparedBatch:
        checked = self.mapper.check(batch)
        quarantined = checked.quarantined
        rows = quarantined.num_rows
        quarantined = quarantined.add_column(0, "file_id", pa.repeat(self.file_id, rows)).add_column(
            1, "file_name", pa.repeat(self.file_name, rows)
        )
        return _PreparedBatch(
            _copy_of(self.file_table, checked.lines, freeze=True),
            _copy_of(sql.Identifier("quarantine", "order_lines"), quarantined),
        )


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
        raise FileRejected(
            f"text PostgreSQL cannot store (is the declared encoding right?): {error.diag.message_primary}"
        ) from error
