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
from functools import partial
from itertools import islice
from pathlib import Path
from statistics import median

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stopwatch, fresh_database, print_table, settle, throwaway_postgres  # noqa: E402

from ingestion.demo_data import generate_orders  # noqa: E402
from ingestion.loader import ensure_schema, load_file, mapping_for  # noqa: E402
from ingestion.sources import load_mappings  # noqa: E402
from orchestration.settings import Settings  # noqa: E402
from orchestration.stack.postgres import psql_executable  # noqa: E402

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


CEILING, INDEXED, LOADER, PANDAS = "psql \\copy (ceiling)", "psql \\copy, order_id index kept up", "this loader", "pandas to_sql (baseline)"
METHODS = {
    CEILING: load_with_psql_copy,
    INDEXED: partial(load_with_psql_copy, lookup_index=True),
    LOADER: load_with_loader,
    PANDAS: load_with_pandas,
}
ALTERNATING_ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--memory-lines", type=int, default=5_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ecom-bench-data-") as scratch, throwaway_postgres() as settings:
        data = Path(scratch)
        print(f"generating a {args.lines:,}-line CSV ...", flush=True)
        path, lines = one_file(data / "speed", args.lines, seed=1)
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
        rounds = ", ".join(f"{c / l:.2f}" for (c, _), (l, _) in zip(runs[CEILING], runs[LOADER]))
        print(f"\nloader / \\copy = {ceiling / loader:.2f} (target >= 0.5; each round: {rounds}); loader / pandas = {timings[PANDAS] / loader:.1f}x")
        print(f"loader / \\copy into a table keeping an order_id index up = {timings[INDEXED] / loader:.2f}")
        print(f"CPU seconds, \\copy / loader = {cpu_ratio:.2f}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        print(f"\ngenerating a {args.memory_lines:,}-line CSV ...", flush=True)
        big_path, big_lines = one_file(data / "memory", args.memory_lines, seed=2)
        seconds, peak_mib = peak_memory_of_loading(fresh_database(settings, "bench_memory"), big_path)
        print_table(
            "Peak memory of the loader process",
            ["lines", "size MiB", "seconds", "rows/s", "peak RSS MiB"],
            [[big_lines, round(big_path.stat().st_size / 2**20), round(seconds, 1), round(big_lines / seconds), round(peak_mib)]],
        )
        print(f"\npeak memory {peak_mib:.0f} MiB (target < 1024 MiB)")


if __name__ == "__main__":
    main()
