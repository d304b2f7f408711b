"""Ingestion speed and memory, measured against baselines in the same run (`make bench`).

1. The same 1,000,000-line CSV loaded three ways: this loader (validation, quarantine, replacement,
   manifest), `psql \\copy` of the file into a typed table (PostgreSQL's ceiling) and pandas `to_sql`
   (the naive baseline). Prints rows/s and the ratios. Target: loader >= 0.5 x `\\copy`.
   For comparison, also `\\copy` into a table that keeps an order_id index up, as raw.order_lines
   did before it was partitioned by file. Each method starts from a checkpoint, so that none pays
   for writing out the previous one's data; the loader and the ceiling run three times, alternating,
   and their medians count. Also the CPU seconds each method took, client and server together: on a
   machine busy with other work, wall times stretch with the competition, CPU seconds much less.
2. Peak memory (max RSS) of the loader process on a 5,000,000-line file. Target: < 1 GiB.
3. Per-file load time over a long run of daily files: 1,000 days of one shop (about 13,600 lines and
   6,600 orders a day, as in bench_dbt.py, with its late, re-sent, returned and cancelled orders and a
   few bad lines), loaded one after another into one warehouse, each a partition. Prints the median
   time per file of the first 25 and of the last 25 files (both starting from a checkpoint), and their
   ratio. Target: last / first <= 2: a file must not cost more for every partition before it. Also the
   CPU seconds per file (loader and its PostgreSQL backend), and one more day from another shop whose
   order numbers restart at 1, re-sending orders of the first days (the costliest kind of file for the
   order directory). The phase takes about 6 minutes on 2 cores (1 of them writing the files), and
   5 GB of disk.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from itertools import islice
from pathlib import Path
from statistics import median
from typing import NamedTuple

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stopwatch, fresh_database, print_table, settle, throwaway_postgres

from ingestion.demo_data import generate_orders
from ingestion.loader import ensure_schema, load_file, mapping_for
from ingestion.sources import load_mappings
from orchestration.settings import Settings
from orchestration.stack.postgres import psql_executable

TYPED_TABLE = """
create table raw.copy_ceiling (
    order_id text, ordered_at timestamptz, customer_id text, product_id text, product_name text,
    category text, quantity integer, unit_price numeric, currency char(3), country text, status text, channel text
)
"""
LINES_PER_ORDER = 2.07  # measured mean of the generator


def one_file(directory: Path, lines: int, seed: int) -> tuple[Path, int]:
    """A one-day CSV of exactly `lines` order lines: a few more are generated, the surplus cut off."""
    report = generate_orders(directory / "generated", orders=int(lines / LINES_PER_ORDER * 1.05), days=1, seed=seed)
    (generated,) = report.files
    assert generated.lines >= lines, f"the generator wrote only {generated.lines:,} lines"
    path = directory / f"orders_{lines}.csv"
    with generated.path.open("rb") as source, path.open("wb") as target:
        target.writelines(islice(source, lines + 1))  # the header, then the lines
    generated.path.unlink()
    return path, lines


def load_with_loader(url: str, path: Path) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        with Stopwatch() as watch:
            result = load_file(conn, path, mapping_for(path, load_mappings()))
    assert result.status == "loaded", result
    return watch.seconds


def load_with_psql_copy(url: str, path: Path, lookup_index: bool = False) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TYPED_TABLE)
        if lookup_index:
            conn.execute("create index on raw.copy_ceiling (order_id)")
    with Stopwatch() as watch:
        subprocess.run(
            [str(psql_executable()), url, "-q", "-c", f"\\copy raw.copy_ceiling from '{path}' with (format csv, header true)"],
            check=True,
        )
    return watch.seconds


def load_with_pandas(url: str, path: Path) -> float:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with Stopwatch() as watch:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.to_sql("pandas_baseline", engine, schema="raw", index=False, chunksize=50_000)
    engine.dispose()
    return watch.seconds


def cpu_seconds(settings: Settings) -> float:
    """CPU time used so far by this process, its children (psql) and the PostgreSQL cluster."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    total = sum(part.ru_utime + part.ru_stime for part in usage)
    postmaster = psutil.Process(int((settings.pgdata_dir / "postmaster.pid").read_text().split()[0]))
    for process in [postmaster, *postmaster.children()]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            # children_*: the backends that have ended, such as psql's
            total += times.user + times.system + times.children_user + times.children_system
    return total


def peak_memory_of_loading(url: str, path: Path) -> tuple[float, float]:
    """(seconds, max RSS in MiB) of a separate process that loads `path`."""
    code = (
        "import sys; from pathlib import Path; import psycopg;"
        "from ingestion.loader import ensure_schema, load_file, mapping_for; from ingestion.sources import load_mappings;"
        "conn = psycopg.connect(sys.argv[1], autocommit=True); ensure_schema(conn);"
        "p = Path(sys.argv[2]); r = load_file(conn, p, mapping_for(p, load_mappings())); assert r.status == 'loaded', r"
    )
    # Sampled from outside: Linux carries a process's ru_maxrss across exec, so the child's own
    # figure would include this (much larger) benchmark process it was forked from.
    peak = 0
    with Stopwatch() as watch:
        child = subprocess.Popen([sys.executable, "-c", code, url, str(path)])
        process = psutil.Process(child.pid)
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)
    assert child.returncode == 0, "the loader failed"
    return watch.seconds, peak / 2**20


class FileLoad(NamedTuple):
    seconds: float
    cpu_seconds: float  # of this process and its PostgreSQL backend
    lines: float
    orders_replaced: float


def loading_one_file_after_another(settings: Settings, url: str, paths: list[Path], settle_before: int) -> list[FileLoad]:
    """Loads `paths` in order into one warehouse, settling (harness.settle) before the one at index
    `settle_before`."""
    mappings = load_mappings()
    timings = []
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        backend = psutil.Process(conn.info.backend_pid)
        for number, path in enumerate(paths, start=1):
            if number - 1 == settle_before:
                settle(settings)
            cpu_before = time.process_time() + sum(backend.cpu_times()[:2])
            with Stopwatch() as watch:
                result = load_file(conn, path, mapping_for(path, mappings))
            cpu = time.process_time() + sum(backend.cpu_times()[:2]) - cpu_before
            assert result.status == "loaded", result
            timings.append(FileLoad(watch.seconds, cpu, result.rows_loaded, result.orders_replaced))
            if number % 100 == 0:
                print(f"  {number} files loaded, the last in {watch.seconds:.2f} s", flush=True)
    return timings


CEILING, INDEXED, LOADER, PANDAS = (
    "psql \\copy (ceiling)",
    "psql \\copy, order_id index kept up",
    "this loader",
    "pandas to_sql (baseline)",
)
METHODS = {
    CEILING: load_with_psql_copy,
    INDEXED: partial(load_with_psql_copy, lookup_index=True),
    LOADER: load_with_loader,
    PANDAS: load_with_pandas,
}
ALTERNATING_ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the speed phase's file (0 skips it)")
    parser.add_argument("--memory-lines", type=int, default=5_000_000, help="lines of the memory phase's file (0 skips it)")
    parser.add_argument("--files", type=int, default=1_000, help="daily files of the per-file phase (0 skips it)")
    parser.add_argument("--file-lines", type=int, default=13_600, help="order lines per daily file, about")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ecom-bench-data-") as scratch, throwaway_postgres() as settings:
        data = Path(scratch)
        if args.lines:
            speed(settings, data / "speed", args.lines)
        if args.memory_lines:
            memory(settings, data / "memory", args.memory_lines)
        if args.files:
            many_files(settings, data / "days", args.files, args.file_lines)


def speed(settings: Settings, directory: Path, lines: int) -> None:
    print(f"generating a {lines:,}-line CSV ...", flush=True)
    path, lines = one_file(directory, lines, seed=1)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in METHODS}  # (seconds, CPU seconds)
    schedule = [CEILING, LOADER] * ALTERNATING_ROUNDS + [INDEXED, PANDAS]
    for number, name in enumerate(schedule):
        print(f"loading with {name} ...", flush=True)
        url = fresh_database(settings, f"bench_{number}")
        settle(settings)
        cpu_before = cpu_seconds(settings)
        seconds = METHODS[name](url, path)
        runs[name].append((seconds, cpu_seconds(settings) - cpu_before))
    timings = {name: median(seconds for seconds, _ in measured) for name, measured in runs.items()}
    cpu = {name: median(cpu_seconds for _, cpu_seconds in measured) for name, measured in runs.items()}
    ceiling, loader = timings[CEILING], timings[LOADER]
    cpu_ratio = cpu[CEILING] / cpu[LOADER]
    print_table(
        f"Loading one CSV of {lines:,} order lines (medians)",
        ["method", "runs", "seconds", "rows/s", "speed vs \\copy", "CPU seconds"],
        [
            [name, len(runs[name]), round(seconds, 2), round(lines / seconds), round(ceiling / seconds, 2), round(cpu[name], 2)]
            for name, seconds in timings.items()
        ],
    )
    rounds = ", ".join(
        f"{ceiling_run / loader_run:.2f}" for (ceiling_run, _), (loader_run, _) in zip(runs[CEILING], runs[LOADER])
    )
    print(
        f"\nloader / \\copy = {ceiling / loader:.2f} (target >= 0.5; each round: {rounds}); loader / pandas = {timings[PANDAS] / loader:.1f}x"
    )
    print(f"loader / \\copy into a table keeping an order_id index up = {timings[INDEXED] / loader:.2f}")
    print(f"CPU seconds, \\copy / loader = {cpu_ratio:.2f}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def memory(settings: Settings, directory: Path, lines: int) -> None:
    print(f"\ngenerating a {lines:,}-line CSV ...", flush=True)
    big_path, big_lines = one_file(directory, lines, seed=2)
    seconds, peak_mib = peak_memory_of_loading(fresh_database(settings, "bench_memory"), big_path)
    print_table(
        "Peak memory of the loader process",
        ["lines", "size MiB", "seconds", "rows/s", "peak RSS MiB"],
        [[big_lines, round(big_path.stat().st_size / 2**20), round(seconds, 1), round(big_lines / seconds), round(peak_mib)]],
    )
    print(f"\npeak memory {peak_mib:.0f} MiB (target < 1024 MiB)")


WINDOW = 25  # files at the start and at the end of the run whose times are compared
TARGET_GROWTH = 2.0
# With 1,000 days from here, the first and the last 25 days have about as many orders (the shop's growth
# over the years makes up for its December promotions), so that their times compare.
FIRST_DAY = date(2021, 12, 1)


def many_files(settings: Settings, directory: Path, days: int, lines_per_day: int) -> None:
    with Stopwatch() as phase:
        print(f"\ngenerating {days:,} daily files of about {lines_per_day:,} lines ...", flush=True)
        # The dbt benchmark's shop, its days made as long as asked, and all in the past (lines from the
        # future are quarantined); few bad lines, as there.
        first_day = min(FIRST_DAY, date.today() - timedelta(days=days + 2))
        report = generate_orders(
            directory / "shop",
            orders=round(days * lines_per_day / LINES_PER_ORDER),
            days=days,
            seed=42,
            defect_rate=0.001,
            start=first_day,
        )
        daily = [generated.path for generated in report.files if generated.broken is None]
        # Another shop's day after them: its order numbers restart at 1, so it re-sends orders of the
        # shop's first days (with other lines) and brings orders into the gaps between them.
        (other,) = generate_orders(
            directory / "other_shop",
            orders=round(lines_per_day / LINES_PER_ORDER),
            days=1,
            seed=43,
            start=first_day + timedelta(days=days),
        ).files
        print(f"loading them one after another, then the other shop's day ({report.lines + other.lines:,} lines) ...", flush=True)
        url = fresh_database(settings, "bench_files")
        settle(settings)
        # The last files start from a checkpoint too, as the first ones do: a run of 1,000 days in minutes
        # leaves gigabytes of data and WAL to write out, a day's file would find them written long ago.
        timings = loading_one_file_after_another(settings, url, [*daily, other.path], settle_before=len(daily) - WINDOW)
        with psycopg.connect(url) as conn:
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    *timings, other = timings
    first, last = (FileLoad(*(median(values) for values in zip(*window))) for window in (timings[:WINDOW], timings[-WINDOW:]))
    print_table(
        f"Loading {len(daily):,} daily files one after another ({report.lines:,} lines; medians per file)",
        ["files", "seconds", "CPU seconds", "lines", "orders replaced"],
        [
            [name, round(load.seconds, 3), round(load.cpu_seconds, 3), round(load.lines), round(load.orders_replaced)]
            for name, load in ((f"first {WINDOW}", first), (f"last {WINDOW}", last), ("the other shop's day", other))
        ],
    )
    print(
        f"\nper file, last {WINDOW} / first {WINDOW} = {last.seconds / first.seconds:.2f} (target <= {TARGET_GROWTH});"
        f" in CPU seconds {last.cpu_seconds / first.cpu_seconds:.2f}; {sum(load.seconds for load in timings):.0f} s of loading,"
        f" {size / 2**30:.1f} GiB of database; the phase took {phase.seconds / 60:.1f} min;"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
