"""`ecom`: the project's command line. Starts and stops the local stack and runs the pipeline.

Only the commands and their options live here (on click); what they do is in orchestration/stack/lifecycle.py
(the stack), orchestration/pipeline_runs.py (`ecom run`) and orchestration/order_files.py (order files).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

import click

from orchestration import order_files, pipeline_runs
from orchestration.settings import Settings, load_settings
from orchestration.stack import lifecycle, private_state


@click.group(help=__doc__.split("\n\n")[0])
@click.pass_context
def ecom(context: click.Context) -> None:
    # Everything `ecom` and the servers it starts write is its user's alone.
    os.umask(private_state.PRIVATE_UMASK)
    context.obj = load_settings()


@ecom.command(help="start the local stack (PostgreSQL, Superset, Dagster)")
@click.pass_obj
def up(settings: Settings) -> int:
    lifecycle.up(settings)
    return 0


@ecom.command(help="stop every process of the local stack")
@click.pass_obj
def down(settings: Settings) -> int:
    lifecycle.down(settings)
    return 0


@ecom.command(help="show URLs and the state of each service")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> int:
    report = lifecycle.status(settings)
    print(json.dumps(report, indent=2)) if as_json else lifecycle.print_status(report)
    return 0


@ecom.command(help="start the stack if needed and materialize every asset once")
@click.option("--landing", help="load order files from this folder instead of the stack's landing folder")
@click.option("--no-demo", is_flag=True, help="never generate demo data")
@click.option("--demo-orders", type=int, default=20_000, show_default=True, help="orders of generated demo data")
@click.option("--demo-days", type=int, default=365, show_default=True, help="days of generated demo data")
@click.pass_obj
def run(settings: Settings, landing: str | None, no_demo: bool, demo_orders: int, demo_days: int) -> int:
    return pipeline_runs.run(settings, landing=landing, demo=not no_demo, demo_orders=demo_orders, demo_days=demo_days)


@ecom.command(help="build the dbt docs and serve them")
@click.option("--no-serve", is_flag=True, help="only build them")
@click.pass_obj
def docs(settings: Settings, no_serve: bool) -> int:
    return lifecycle.dbt_docs(settings, serve=not no_serve)


@ecom.command(help="load new order files into the warehouse now (no Dagster run)")
@click.argument("path", required=False)
@click.option(
    "--reload", multiple=True, metavar="FILE", help="load this file (its name in the folder) again even if it was loaded before"
)
@click.pass_obj
def ingest(settings: Settings, path: str | None, reload: tuple[str, ...]) -> int:
    return order_files.ingest(settings, Path(path).resolve() if path else settings.landing_dir, list(reload))


@ecom.command(help="show how a file would load (mapping, columns, first rows, quarantine, totals); writes nothing")
@click.argument("file")
@click.pass_obj
def preview(settings: Settings, file: str) -> int:
    return order_files.preview(settings, Path(file))


@ecom.command(help="write deterministic demo order files")
@click.option("--orders", type=int, required=True)
@click.option("--days", type=int, required=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--out", help="folder to write to (default: the landing folder)")
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option("--defects", type=float, default=0.0, help="fraction of bad rows, e.g. 0.01")
@click.option("--start", help="first day, YYYY-MM-DD (default: the day after the last day in --out, or today minus --days)")
@click.option(
    "--warehouse",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="URL",
    help="also continue after the orders in this warehouse's raw.order_lines (no URL: the stack's warehouse)",
)
@click.option("--gzip", is_flag=True, help="gzip csv/jsonl files")
@click.option(
    "--anomalies",
    metavar="KIND[:N],...",
    help="inject anomalies, e.g. spike:4,drop:4,outage,lost_day (kinds: spike, drop, outage, lost_day)",
)
@click.option(
    "--anomaly-spreads",
    type=float,
    help="size of a spike or drop in usual day-to-day spreads of its segment (default: 3)",
)
@click.option(
    "--ground-truth",
    metavar="FILE",
    help="CSV of the days and segments the anomalies changed, appended to (default: OUT-anomalies.csv beside --out)",
)
@click.pass_obj
def generate(
    settings: Settings,
    orders: int,
    days: int,
    seed: int,
    out: str | None,
    file_format: str,
    defects: float,
    start: str | None,
    warehouse: str | None,
    gzip: bool,
    anomalies: str | None,
    anomaly_spreads: float | None,
    ground_truth: str | None,
) -> int:
    try:
        first_day = date.fromisoformat(start) if start else None
        anomaly_request = order_files.anomaly_request(anomalies, anomaly_spreads)
    except ValueError as error:
        raise SystemExit(f"ecom generate: {error}") from error
    out_dir = Path(out) if out else settings.landing_dir
    order_files.generate(
        out_dir,
        orders=orders,
        days=days,
        seed=seed,
        file_format=file_format,
        defects=defects,
        start=first_day,
        compress=gzip,
        # --warehouse alone: the stack's warehouse.
        warehouse_url=None if warehouse is None else warehouse or settings.warehouse.url(),
        anomalies=anomaly_request,
        # Not in the folder: the loader would take it for an order file.
        ground_truth=Path(ground_truth) if ground_truth else order_files.default_ground_truth(out_dir),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `ecom` console script: the command's exit status (2 for a command line click cannot read)."""
    try:
        return ecom.main(args=argv, prog_name="ecom", standalone_mode=False) or 0
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
