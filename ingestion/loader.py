"""Load landed order files into `raw.order_lines`, exactly once, atomically per file.

How a file is loaded, and why:
1. Its bytes are streamed into a temporary all-text table with COPY: that is PostgreSQL's fastest
   path and keeps every value exactly as written, so nothing is lost before validation.
2. Validation and casting run as set-based SQL over that table. Each bad row goes to
   `quarantine.order_lines` with its line number, the raw row and the first reason it failed.
3. Good rows replace earlier lines of the same orders (see CONTRACT.md, "Corrections"), then are
   inserted. Steps 1-3 and the manifest row are one transaction: a crash leaves nothing behind.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pycountry
from psycopg import sql

from ingestion.sources import CONTRACT_COLUMNS, REQUIRED_COLUMNS, SourceMapping, mapping_for

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
COPY_CHUNK_BYTES = 1 << 20
# One loader at a time per warehouse: two runs must not interleave replacements of the same order.
LOAD_LOCK_KEY = 7_310_001
ISO_CURRENCIES = sorted(currency.alpha_3 for currency in pycountry.currencies)
FUTURE_TOLERANCE = "1 day"


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


class FileRejected(Exception):
    """The file as a whole cannot be loaded; the message says why, for the manifest."""


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


def load_landing(
    conninfo: str,
    landing_dir: Path,
    mappings: list[SourceMapping],
    on_file: Callable[[FileResult], None] | None = None,
) -> LoadSummary:
    """Load every new file under `landing_dir`; files already in the manifest are skipped."""
    results = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
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


def load_file(conn: psycopg.Connection, path: Path, mapping: SourceMapping) -> FileResult:
    started = time.monotonic()
    sha = file_sha256(path)
    already = conn.execute(
        "select status from ops.ingested_files where content_sha256 = %s and source = %s", (sha, mapping.name)
    ).fetchone()
    if already:
        return FileResult(path.name, "skipped")
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            file_id = _register(conn, path, sha, mapping, status="loaded")
            _copy_into_staging(conn, path, mapping)
            quarantined = _quarantine_bad_rows(conn, file_id, path.name, mapping)
            replaced, loaded = _replace_and_insert(conn, file_id, mapping)
            conn.execute(
                "update ops.ingested_files set rows_loaded = %s, rows_quarantined = %s, orders_replaced = %s,"
                " finished_at = clock_timestamp() where file_id = %s",
                (loaded, quarantined, replaced, file_id),
            )
    except FileRejected as rejection:
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


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_header(path: Path, mapping: SourceMapping) -> list[str]:
    python_encoding = {"UTF8": "utf-8", "LATIN1": "latin-1", "WIN1252": "cp1252"}.get(
        mapping.csv.encoding.upper(), mapping.csv.encoding
    )
    try:
        with _open_bytes(path) as raw:
            first_line = raw.readline()
    except (OSError, EOFError) as error:
        raise FileRejected(f"unreadable file: {error}") from error
    if not first_line.strip():
        raise FileRejected("empty file: no header row")
    try:
        text = first_line.decode(python_encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise FileRejected(f"header is not valid {mapping.csv.encoding}: {error}") from error
    return next(csv.reader(io.StringIO(text), delimiter=mapping.csv.delimiter, quotechar=mapping.csv.quote))


def _copy_into_staging(conn: psycopg.Connection, path: Path, mapping: SourceMapping) -> None:
    header = _read_header(path, mapping)
    by_export_name = {mapping.export_column(column): column for column in CONTRACT_COLUMNS}
    staging_columns = [by_export_name.get(name.strip(), f"extra_{position}") for position, name in enumerate(header)]
    missing = [mapping.export_column(column) for column in REQUIRED_COLUMNS if column not in staging_columns]
    if missing:
        raise FileRejected(f"missing required column(s): {', '.join(missing)}")
    absent = [column for column in CONTRACT_COLUMNS if column not in staging_columns]
    conn.execute(
        sql.SQL(
            "create temporary table incoming (source_line bigint generated always as identity (start with 2), {}) on commit drop"
        ).format(sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in staging_columns + absent))
    )
    copy_statement = sql.SQL(
        "copy incoming ({}) from stdin with (format csv, header true, delimiter {}, quote {}, encoding {})"
    ).format(
        sql.SQL(", ").join(sql.Identifier(c) for c in staging_columns),
        sql.Literal(mapping.csv.delimiter),
        sql.Literal(mapping.csv.quote),
        sql.Literal(mapping.csv.encoding),
    )
    try:
        with conn.cursor().copy(copy_statement) as copy, _open_bytes(path) as source:
            while chunk := source.read(COPY_CHUNK_BYTES):
                copy.write(chunk)
    except psycopg.errors.DataError as error:
        raise FileRejected(f"unreadable as {mapping.csv.encoding} CSV: {error.diag.message_primary} ({error.diag.context})") from error
    except (OSError, EOFError) as error:
        raise FileRejected(f"unreadable file: {error}") from error
    if conn.execute("select not exists (select from incoming)").fetchone()[0]:
        raise FileRejected("empty file: a header but no rows")


def _typed_rows_sql(mapping: SourceMapping) -> sql.Composed:
    """`incoming` with trimmed values and the first reason each row fails, or null for a good row."""
    price = sql.SQL("replace(unit_price, {}, '.')").format(sql.Literal(mapping.csv.decimal_separator))
    return sql.SQL(
        """
        select source_line,
               nullif(btrim(order_id), '') as order_id,
               nullif(btrim(ordered_at), '') as ordered_at,
               nullif(btrim(customer_id), '') as customer_id,
               nullif(btrim(product_id), '') as product_id,
               nullif(btrim(product_name), '') as product_name,
               nullif(btrim(category), '') as category,
               btrim(quantity) as quantity,
               btrim({price}) as unit_price,
               upper(coalesce(nullif(btrim(currency), ''), {default_currency})) as currency,
               upper(nullif(btrim(country), '')) as country,
               lower(nullif(btrim(status), '')) as status,
               lower(nullif(btrim(channel), '')) as channel,
               case
                   when nullif(btrim(order_id), '') is null then 'missing order_id'
                   when nullif(btrim(ordered_at), '') is null then 'missing ordered_at'
                   when nullif(btrim(product_id), '') is null then 'missing product_id'
                   when nullif(btrim(quantity), '') is null then 'missing quantity'
                   when btrim(quantity) !~ '^[+-]?[0-9]{{1,9}}$' then 'quantity is not an integer'
                   when btrim(quantity)::integer = 0 then 'quantity is zero'
                   when nullif(btrim(unit_price), '') is null then 'missing unit_price'
                   when btrim({price}) !~ '^[+-]?[0-9]{{1,12}}([.][0-9]+)?$' then 'unit_price is not a number'
                   when btrim({price})::numeric < 0 then 'unit_price is negative'
                   -- PostgreSQL also accepts words such as 'yesterday' or 'epoch': require a date first.
                   when btrim(ordered_at) !~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'
                        or not pg_input_is_valid(btrim(ordered_at), 'timestamptz') then 'ordered_at is not a timestamp'
                   when btrim(ordered_at)::timestamptz > now() + {future} then 'ordered_at is in the future'
                   when coalesce(nullif(btrim(currency), ''), {default_currency}) is null then 'missing currency'
                   when upper(coalesce(nullif(btrim(currency), ''), {default_currency})) <> all({currencies})
                        then 'unknown currency code'
               end as reason
        from incoming
        """
    ).format(
        price=price,
        default_currency=sql.Literal(mapping.default_currency),
        future=sql.SQL("interval {}").format(sql.Literal(FUTURE_TOLERANCE)),
        currencies=sql.Literal(ISO_CURRENCIES),
    )


def _quarantine_bad_rows(conn: psycopg.Connection, file_id: int, file_name: str, mapping: SourceMapping) -> int:
    # Naive timestamps are read in the source's time zone.
    conn.execute(sql.SQL("set local time zone {}").format(sql.Literal(mapping.timezone)))
    conn.execute(
        sql.SQL("create temporary table checked on commit drop as {}").format(_typed_rows_sql(mapping))
    )
    return conn.execute(
        """
        insert into quarantine.order_lines (file_id, file_name, source_line, reason, raw_row)
        select %s, %s, c.source_line, c.reason, to_jsonb(i) - 'source_line'
        from checked c join incoming i using (source_line)
        where c.reason is not null
        """,
        (file_id, file_name),
    ).rowcount


def _replace_and_insert(conn: psycopg.Connection, file_id: int, mapping: SourceMapping) -> tuple[int, int]:
    """Replace earlier lines of the orders in this file, by part (sales vs returns), then insert."""
    replaced = conn.execute(
        """
        with parts as (
            select distinct order_id, btrim(quantity)::integer > 0 as is_sale
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
        select order_id, ordered_at::timestamptz, customer_id, product_id, product_name, category,
               quantity::integer, unit_price::numeric, currency, country, status, channel,
               %s, %s, source_line
        from checked where reason is null
        order by source_line
        """,
        (mapping.name, file_id),
    ).rowcount
    return replaced, loaded


def ingestion_totals(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        ensure_schema(conn)
        row = conn.execute(
            "select count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0),"
            " count(*) filter (where status = 'rejected') from ops.ingested_files"
        ).fetchone()
    return {"files": row[0], "rows_loaded": row[1], "rows_quarantined": row[2], "files_rejected": row[3]}


def iter_new_files(conninfo: str, landing_dir: Path, mappings: list[SourceMapping]) -> Iterable[Path]:
    """Files under `landing_dir` whose content is not in the manifest yet (for the landing sensor)."""
    with psycopg.connect(conninfo) as conn:
        ensure_schema(conn)
        known = {row[0] for row in conn.execute("select content_sha256 from ops.ingested_files")}
    for path in landed_files(landing_dir):
        if mapping_for(path, mappings) and file_sha256(path) not in known:
            yield path
