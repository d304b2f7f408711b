"""Benchmark of the forecasting stage: accuracy on held-back weeks, and the time of the whole step.

    .venv/bin/python tests/benchmarks/bench_forecast.py [--orders 150000] [--days 800]
    .venv/bin/python tests/benchmarks/bench_forecast.py --warehouse-url postgresql://...  (only reads)

Without --warehouse-url it starts its own embedded PostgreSQL (harness.py), generates `--days` of demo
orders, loads them and builds the marts the forecast reads (dbt, straight into the published schemas).
With --warehouse-url it reads the published marts of a warehouse that is already built (a benchmark
stack of 5M lines, say) and writes nothing there.

Then, on every series (net revenue and orders, shop-wide, per category and per country):
1. the whole forecast step as the asset runs it, timed: read the mart, backtest the candidates, choose,
   forecast 90 days (the writing of the tables, a COPY of a few thousand rows, is not included: the
   second mode must not write). Target: under 60 s.
2. accuracy on the final 8 weeks held back: each series' model chosen on the weeks before, against
   seasonal naive: MASE (mean over the series) and the share of held-back days inside the 80% and 95%
   intervals. Targets: the chosen models' MASE below seasonal naive's; 95% coverage within 90-98%.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import print_table, throwaway_postgres

from forecasting.models import ForecastConfig, choose_and_forecast, holdout_evaluation
from forecasting.series import daily_series, last_complete_day, read_daily_segments
from ingestion.demo_data import generate_orders
from ingestion.exchange_rates import load_exchange_rates
from ingestion.loader import load_landing
from ingestion.sources import load_mappings
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT

DBT = str(Path(sys.executable).with_name("dbt"))
HOLDOUT_DAYS = 56


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def build_generated_warehouse(url: str, work_dir: Path, orders: int, days: int) -> None:
    landing = work_dir / "landing"
    # Ending yesterday: the loader quarantines lines dated in the future.
    start = date.today() - timedelta(days=days)
    say(f"generating {orders:,} orders over {days} days from {start} ...")
    generate_orders(landing, orders=orders, days=days, seed=42, start=start)
    summary = load_landing(url, landing, load_mappings())
    load_exchange_rates(url, work_dir / "rates")
    say(f"  {summary.rows_loaded:,} lines loaded; building the marts the forecast reads (dbt) ...")
    marts = ["+kpi_daily", "+sales_daily_by_category_country", "+int_sales__daily_by_country", "+sales_orders_daily"]
    command = [DBT, "build", "--select", *marts, "--exclude-resource-type", "test", "unit_test"]
    command += ["--vars", '{"schema_suffix": ""}', "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    command += ["--target-path", str(work_dir / "dbt-target"), "--log-path", str(work_dir / "dbt-logs")]
    result = subprocess.run(command, env=dict(os.environ), cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-6000:], result.stderr[-3000:])
        raise SystemExit("dbt build failed")


def measure(url: str) -> int:
    config = ForecastConfig()
    # What the asset does, less the writing: origin, series, backtest and choice, 90-day forecast.
    started = time.perf_counter()
    origin = last_complete_day(url, date.today())
    if origin is None:
        raise SystemExit("marts.sales_orders_daily has no complete day")
    series = daily_series(read_daily_segments(url, origin), origin)
    read_seconds = time.perf_counter() - started
    scores, forecasts = choose_and_forecast(series, config)
    forecast_rows = len(forecasts)
    step_seconds = time.perf_counter() - started
    lengths = series.groupby("unique_id").size()
    chosen = scores[scores["chosen"]]
    print_table(
        f"Forecast step, origin {origin}: {lengths.size} series of {lengths.min()}-{lengths.max()} days",
        ["part", "seconds"],
        [
            ["read the mart, fill zero days", round(read_seconds, 1)],
            [f"backtest, choose, forecast 90 days ({forecast_rows:,} rows)", round(step_seconds - read_seconds, 1)],
            ["whole step (target < 60 s)", round(step_seconds, 1)],
        ],
    )
    print_table(
        "Models chosen",
        ["model", "series"],
        [[model, count] for model, count in chosen["model"].value_counts().items()],
    )

    say(f"holding back the final {HOLDOUT_DAYS} days of each series ...")
    started = time.perf_counter()
    held = holdout_evaluation(series, HOLDOUT_DAYS, config)
    say(f"  done in {time.perf_counter() - started:.1f} s")
    held["metric"] = held["unique_id"].str.rsplit("|", n=1).str[-1]
    rows = []
    for metric, group in [*held.groupby("metric"), ("all", held)]:
        rows.append(
            [
                metric,
                len(group),
                round(group["chosen_mase"].mean(), 3),
                round(group["baseline_mase"].mean(), 3),
                round(group["coverage80"].mean(), 3),
                round(group["coverage95"].mean(), 3),
                round(group["baseline_coverage80"].mean(), 3),
                round(group["baseline_coverage95"].mean(), 3),
            ]
        )
    print_table(
        f"Held-back final {HOLDOUT_DAYS} days (MASE: mean over series; coverage: share of held-back days in the interval)",
        [
            "metric",
            "series",
            "MASE chosen",
            "MASE seasonal naive",
            "cover 80%",
            "cover 95%",
            "naive cover 80%",
            "naive cover 95%",
        ],
        rows,
    )
    overall = rows[-1]
    beats = overall[2] < overall[3]
    covers = 0.90 <= overall[5] <= 0.98
    print(
        f"\nchosen models beat seasonal naive on MASE: {'yes' if beats else 'NO'} ({overall[2]} vs {overall[3]}); "
        f"95% coverage {overall[5]:.1%} {'within' if covers else 'OUTSIDE'} 90-98%; "
        f"whole step {step_seconds:.1f} s {'under' if step_seconds < 60 else 'OVER'} 60 s"
    )
    with pd.option_context("display.width", 200, "display.max_rows", 20):
        print("\nworst held-back series:\n", held.sort_values("chosen_mase", ascending=False).head(8).to_string(index=False))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse-url", help="read the published marts of this built warehouse instead (read only)")
    parser.add_argument("--orders", type=int, default=150_000, help="orders to generate (default 150k)")
    parser.add_argument(
        "--days", type=int, default=800, help="days (default 800: two years before the held-back weeks, for the yearly season)"
    )
    args = parser.parse_args()
    if args.warehouse_url:
        return measure(args.warehouse_url)
    with throwaway_postgres() as settings:
        build_generated_warehouse(settings.warehouse.url(), settings.home, args.orders, args.days)
        return measure(settings.warehouse.url())


if __name__ == "__main__":
    sys.exit(main())
