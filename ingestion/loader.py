"""Load landed order files into `raw.order_lines`, exactly once, atomically per file.

How a file is loaded, and why:
1. Its records are streamed into a temporary all-text table (readers.py): COPY is PostgreSQL's
   fastest path, and text keeps every value exactly as written, so nothing is lost before validation.
2. The source mapping (renames, constants, id and country normalisation, rules) and validation run as
   set-based SQL over that table. Each bad row goes to `quarantine.order_lines` with its line
   number, the raw row and the first reason it failed.
3. Good rows replace earlier lines of the same orders (CONTRACT.md, "Corrections"), then are
   inserted. Steps 1-3 and the manifest row are one transaction: a crash leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pycountry
from psycopg import sql

from ingestion.readers import COPY_CHUNK_BYTES, FileRejected, StagedFile, stage
from ingestion.sources import CONTRACT_COLUMNS, REQUIRED_COLUMNS, MappingError, SourceMapping, mapping_for

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
# One loader at a time per warehouse: two runs must not interleave replacements of the same order.
LOAD_LOCK_KEY = 7_310_001
ISO_CURRENCIES = sorted(currency.alpha_3 for currency in pycountry.currencies)
FUTURE_TOLERANCE = "1 day"
APPLICATION_NAME = "ecom-ingestion"
# The staging tables are temporary: with PostgreSQL's default 8 MB of temp buffers they spill to disk.
SESSION_OPTIONS = "-c temp_buffers=512MB"

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
        while chunk := handle.read(COPY_CHUNK_BYTES):
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
    with psycopg.connect(conninfo, autocommit=True, application_name=APPLICATION_NAME, options=SESSION_OPTIONS) as conn:
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
            file_id = _register(conn, path, sha, mapping, status="loaded")
            staged = stage(conn, path, mapping)
            quarantined = _validate(conn, staged, mapping, file_id, path.name)
            replaced, loaded = _replace_and_insert(conn, file_id, mapping)
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


# --- mapping and validation --------------------------------------------------------------------


def _column_values(staged: StagedFile, mapping: SourceMapping) -> dict[str, sql.Composable]:
    """The SQL value of each contract column after the mapping, from `incoming i`; NULL when empty."""
    missing = [
        mapping.export_column(column)
        for column in REQUIRED_COLUMNS
        if column not in mapping.constants and staged.column_of(mapping.export_column(column)) is None
    ]
    if missing:
        raise FileRejected(f"missing required column(s): {', '.join(missing)}")
    values: dict[str, sql.Composable] = {}
    for column in CONTRACT_COLUMNS:
        incoming_column = staged.column_of(mapping.export_column(column))
        if column in mapping.constants:
            value: sql.Composable = sql.Literal(mapping.constants[column])
        elif incoming_column is None:
            value = sql.SQL("null::text")
        else:
            value = sql.SQL("nullif(btrim(i.{}), '')").format(sql.Identifier(incoming_column))
        if column in mapping.normalise_ids:
            # Spreadsheet exports turn ids into floats: "17850.0" is customer 17850.
            value = sql.SQL(r"regexp_replace({}, '^([0-9]+)\.0+$', '\1')").format(value)
        values[column] = value
    if mapping.csv.decimal_separator != ".":
        values["unit_price"] = sql.SQL("replace({}, {}, '.')").format(values["unit_price"], sql.Literal(mapping.csv.decimal_separator))
    if mapping.country_names:
        names = sql.SQL("{}::jsonb").format(sql.Literal(json.dumps(mapping.country_names)))
        # A name mapped to null (e.g. "Unspecified") becomes no country at all.
        values["country"] = sql.SQL("case when {names} ? {v} then {names} ->> {v} else {v} end").format(
            names=names, v=values["country"]
        )
    if mapping.default_currency:
        values["currency"] = sql.SQL("coalesce({}, {})").format(values["currency"], sql.Literal(mapping.default_currency))
    for rule in mapping.rules:
        condition = (
            sql.SQL("starts_with({}, {})").format(values[rule.column], sql.Literal(rule.starts_with))
            if rule.starts_with is not None
            else sql.SQL("{} = {}").format(values[rule.column], sql.Literal(rule.equals))
        )
        values[rule.target] = sql.SQL("case when {} then {} else {} end").format(
            condition, sql.Literal(rule.value), values[rule.target]
        )
    return values


def _timestamp_value(mapping: SourceMapping) -> sql.Composable:
    if mapping.timestamp_format:
        return sql.SQL("pg_temp.try_timestamp(m.ordered_at, {})").format(sql.Literal(mapping.timestamp_format))
    # PostgreSQL also accepts words such as 'yesterday' or 'epoch': an ISO date must come first.
    return sql.SQL(
        "case when m.ordered_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' and pg_input_is_valid(m.ordered_at, 'timestamptz')"
        " then m.ordered_at::timestamptz end"
    )


TRY_TIMESTAMP_SQL = """
create or replace function pg_temp.try_timestamp(value text, format text) returns timestamptz
language plpgsql immutable as $$
begin
    return to_timestamp(value, format);
exception when others then
    return null;
end $$
"""


def _validate(conn: psycopg.Connection, staged: StagedFile, mapping: SourceMapping, file_id: int, file_name: str) -> int:
    """Map and check every staged row into `checked`; quarantine the bad ones. Returns how many."""
    values = _column_values(staged, mapping)
    # Naive timestamps are read in the source's time zone.
    conn.execute(sql.SQL("set local time zone {}").format(sql.Literal(mapping.timezone)))
    if mapping.timestamp_format:
        conn.execute(TRY_TIMESTAMP_SQL)
    conn.execute(
        sql.SQL(
            """
            create temporary table checked on commit drop as
            select i.source_line, judged.reason, m.order_id, typed.ordered_at, m.customer_id, m.product_id,
                   m.product_name, m.category,
                   -- Typed once here; good rows are then inserted as they are.
                   case when judged.reason is null then m.quantity::integer end as quantity,
                   case when judged.reason is null then m.unit_price::numeric end as unit_price,
                   upper(m.currency) as currency, upper(m.country) as country,
                   lower(m.status) as status, lower(m.channel) as channel
            from incoming i
            -- Each step is a lateral subquery fenced by OFFSET 0, so that every expression is
            -- evaluated once per row instead of being copied into each place that uses it.
            cross join lateral (select {mapped_columns} offset 0) m
            cross join lateral (select {timestamp} as ordered_at offset 0) typed
            cross join lateral (
                select case
                    when m.order_id is null then 'missing order_id'
                    when m.ordered_at is null then 'missing ordered_at'
                    when m.product_id is null then 'missing product_id'
                    when m.quantity is null then 'missing quantity'
                    when m.quantity !~ '^[+-]?[0-9]{{1,9}}$' then 'quantity is not an integer'
                    when m.quantity::integer = 0 then 'quantity is zero'
                    when m.unit_price is null then 'missing unit_price'
                    when m.unit_price !~ '^[+-]?[0-9]{{1,12}}([.][0-9]+)?$' then 'unit_price is not a number'
                    when m.unit_price::numeric < 0 then 'unit_price is negative'
                    when typed.ordered_at is null then 'ordered_at is not a timestamp'
                    when typed.ordered_at > now() + {future} then 'ordered_at is in the future'
                    when m.currency is null then 'missing currency'
                    when upper(m.currency) <> all({currencies}) then 'unknown currency code'
                end as reason
                offset 0
            ) judged
            """
        ).format(
            mapped_columns=sql.SQL(", ").join(
                sql.SQL("{} as {}").format(value, sql.Identifier(column)) for column, value in values.items()
            ),
            timestamp=_timestamp_value(mapping),
            future=sql.SQL("interval {}").format(sql.Literal(FUTURE_TOLERANCE)),
            currencies=sql.Literal(ISO_CURRENCIES),
        )
    )
    raw_row = sql.SQL("coalesce(i.raw_record::jsonb, jsonb_object({}::text[], array[{}]))").format(
        sql.Literal(staged.header), sql.SQL(", ").join(sql.Identifier("i", f"c{n}") for n in range(1, len(staged.header) + 1))
    )
    quarantined = conn.execute(
        sql.SQL(
            """
            insert into quarantine.order_lines (file_id, file_name, source_line, reason, raw_row)
            select %s, %s, c.source_line, c.reason, {raw_row}
            from checked c join incoming i using (source_line)
            where c.reason is not null
            """
        ).format(raw_row=raw_row),
        (file_id, file_name),
    ).rowcount
    if staged.malformed:
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into quarantine.order_lines (file_id, file_name, source_line, reason, raw_row) values (%s, %s, %s, %s, %s)",
                [(file_id, file_name, m.source_line, m.reason, psycopg.types.json.Jsonb(m.raw)) for m in staged.malformed],
            )
        quarantined += len(staged.malformed)
    return quarantined


def _replace_and_insert(conn: psycopg.Connection, file_id: int, mapping: SourceMapping) -> tuple[int, int]:
    """Replace earlier lines of the orders in this file, by part (sales vs returns), then insert."""
    replaced = conn.execute(
        """
        with parts as (
            select distinct order_id, quantity > 0 as is_sale
            from checked where reason is null
        ), removed as (
            delete from raw.order_lines r using parts p
            where r.order_id = p.order_id and (r.quantity > 0) = p.is_sale
            returning r.order_id
        )
        select count(distinct order_id) from removed
        """
    ).fetchone()[0]
    loaded = conn.execute(
        """
        insert into raw.order_lines (order_id, ordered_at, customer_id, product_id, product_name, category,
                                     quantity, unit_price, currency, country, status, channel,
                                     source, file_id, source_line)
        select order_id, ordered_at, customer_id, product_id, product_name, category,
               quantity, unit_price, currency, country, status, channel, %s, %s, source_line
        from checked where reason is null
        """,
        (mapping.name, file_id),
    ).rowcount
    return replaced, loaded
