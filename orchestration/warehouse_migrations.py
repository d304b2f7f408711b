"""The warehouse's tables brought up to date in one step when the stack starts (`ecom up`, `ecom run`,
`ecom ingest`): the ingestion stage's own tables (ingestion/schema.sql), then the numbered SQL files
of orchestration/migrations that create and change the pipeline's `ops` tables.

Each migration file runs once, in file name order, and is recorded in ops.schema_migrations; a change
to a table is a new file, never an edit of an applied one. Everything runs in one transaction under
an advisory lock: two starts at once apply each file once, and a failing file leaves the warehouse
as it was.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from ingestion.loader import ensure_schema

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant distinct from the loader's own lock key (ingestion/loader.py).
MIGRATION_LOCK_KEY = 7_311_002


def migration_files(folder: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migrations in the order they apply: by file name, which starts with a zero-padded number."""
    return sorted(folder.glob("*.sql"))


def migrate(conninfo: str, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations the warehouse has not had yet; returns their names."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # The ingestion stage keeps its tables itself (it loads into any warehouse, and upgrades old
        # ones before a load): applied here too, so a started stack has every table.
        ensure_schema(conn)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(
                "create table if not exists ops.schema_migrations ("
                " version text primary key, applied_at timestamptz not null default now())"
            )
            applied = {row[0] for row in conn.execute("select version from ops.schema_migrations")}
            new = [path for path in migration_files(folder) if path.name not in applied]
            for path in new:
                conn.execute(path.read_text())
                conn.execute("insert into ops.schema_migrations (version) values (%s)", (path.name,))
    return [path.name for path in new]
