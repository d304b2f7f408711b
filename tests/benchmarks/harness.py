"""Shared by the benchmarks: a throw-away embedded PostgreSQL and scratch databases on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.settings import WAREHOUSE_SCHEMAS, Settings, load_settings
from orchestration.stack import postgres


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[Settings]:
    """An embedded PostgreSQL in a temporary ECOM_HOME on a free port; removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="ecom-bench-"))
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("ECOM_") or name == "WAREHOUSE_URL":
            del os.environ[name]
    os.environ.update({"ECOM_HOME": str(home), "ECOM_PG_PORT": str(_free_port())})
    settings = load_settings()
    try:
        postgres.init_cluster(settings)
        postgres.start(settings)
        postgres.ensure_roles_and_databases(settings)
        postgres.ensure_warehouse_objects(settings)
        os.environ.update(settings.stack_env())
        yield settings
    finally:
        postgres.stop(settings)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


def _superuser_connection(settings: Settings) -> psycopg.Connection:
    superuser = settings.warehouse.with_login(postgres.SUPERUSER, settings.warehouse.password).with_database("postgres")
    return psycopg.connect(superuser.url(), autocommit=True)


def fresh_database(settings: Settings, name: str) -> str:
    """A new empty database with the warehouse schemas, owned by the pipeline role; returns its URL."""
    with _superuser_connection(settings) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(settings.warehouse.user)))
    url = settings.warehouse.with_database(name).url()
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    return url


def settle(settings: Settings) -> None:
    """Write out what earlier measurements left in memory (a checkpoint, then the OS's dirty pages),
    so that the next one does not pay for it."""
    with _superuser_connection(settings) as conn:
        conn.execute("checkpoint")
    os.sync()


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    widths = [max(len(str(value)) for value in [column, *(row[i] for row in rows)]) for i, column in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(str(column).ljust(width) for column, width in zip(columns, widths)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(
            "  ".join(
                str(value).rjust(width) if isinstance(value, (int, float)) else str(value).ljust(width)
                for value, width in zip(row, widths)
            )
        )
