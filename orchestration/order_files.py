"""`ecom generate`, `ecom ingest` and `ecom preview`: order files written, loaded or looked at from the
command line, without a Dagster run."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.console import say
from orchestration.settings import Settings
from orchestration.stack.lifecycle import ensure_warehouse

if TYPE_CHECKING:
    from ingestion.demo_anomalies import Request

SKIPPED_FILES_SHOWN = 10


def anomaly_request(kinds: str | None, spreads: float | None) -> Request | None:
    """What ``--anomalies`` and ``--anomaly-spreads`` ask for (``ValueError`` when it cannot be read)."""
    if kinds is None:
        if spreads is not None:
            raise ValueError("--anomaly-spreads sizes the anomalies of --anomalies, which is missing")
        return None
    from ingestion.demo_anomalies import DEFAULT_SPREADS, Request

    return Request.parse(kinds, DEFAULT_SPREADS if spreads is None else spreads)


def default_ground_truth(out: Path) -> Path:
    """Where ``ecom generate --anomalies`` writes its ground truth: beside the folder, not in it."""
    folder = Path(out).resolve()
    return folder.with_name(f"{folder.name}-anomalies.csv")


def generate(
    out: Path,
    *,
    orders: int,
    days: int,
    seed: int,
    file_format: str,
    defects: float,
    start: date | None,
    compress: bool,
    warehouse_url: str | None,
    anomalies: Request | None = None,
    ground_truth: Path | None = None,
) -> None:
    """Demo order files that continue what --out (and, with --warehouse, the warehouse) already
    holds: new order and customer ids, days after the last one (see ingestion/demo_history.py).
    With ``anomalies``, the days and segments they changed are appended to ``ground_truth``."""
    from ingestion.demo_anomalies import write_ground_truth
    from ingestion.demo_history import continue_orders

    try:
        report = continue_orders(
            out,
            orders=orders,
            days=days,
            seed=seed,
            file_format=file_format,
            defect_rate=defects,
            start=start,
            compress=compress,
            warehouse_url=warehouse_url,
            anomalies=anomalies,
        )
    except (ValueError, OSError) as error:
        raise SystemExit(f"ecom generate: {error}") from error
    before = report.continued_from
    if before is None:
        say(f"no earlier orders in {out}{' or the warehouse' if warehouse_url else ''}: a new shop")
    else:
        say(f"continuing after order {before.last_order}, customer {before.last_customer} and day {before.last_day or 'none'}")
    say(
        f"wrote {len(report.files)} files, {report.orders} orders, {report.lines} lines to {out}"
        f" ({report.first_day} to {report.last_day})"
    )
    if anomalies is not None and ground_truth is not None:
        path = write_ground_truth(ground_truth, report.anomalies)
        kinds = ", ".join(f"{sum(row.kind == kind for row in report.anomalies)} {kind}" for kind in anomalies.counts)
        say(f"injected anomalies ({kinds} day-segments): ground truth in {path}")
    if report.last_day > date.today() + timedelta(days=1):
        say("note: the loader quarantines lines dated more than a day after the load ('ordered_at is in the future')")


def ingest(settings: Settings, folder: Path, reload: list[str]) -> int:
    """Load new files from `folder` straight into the warehouse, with a progress bar."""
    from tqdm import tqdm

    from ingestion.exchange_rates import load_exchange_rates
    from ingestion.loader import load_landing, scan_landing
    from ingestion.sources import display_name, load_mappings
    from orchestration.ingestion_assets import rates_out_of_date_note, value_rules

    ensure_warehouse(settings)
    # The rates too, so that a `dbt build` run by hand after this load can price every line.
    rates = load_exchange_rates(settings.warehouse.url(), settings.rates_dir)
    say(
        f"ECB exchange rates {rates.coverage.first_rate_day} .. {rates.coverage.last_rate_day}, {rates.rows_changed} rows new or changed"
    )
    landing = scan_landing(folder)
    files = landing.files
    unknown = sorted(set(reload) - {path.name for path in files} - {display_name(path) for path in files})
    if unknown:
        say(f"--reload: not in {folder}: {', '.join(unknown)}")
        return 2
    with tqdm(total=len(files) + len(landing.refused), unit="file", desc="ingesting", dynamic_ncols=True) as bar:
        totals = {"rows": 0, "quarantined": 0}

        def advance(result) -> None:
            totals["rows"] += result.rows_loaded
            totals["quarantined"] += result.rows_quarantined
            bar.set_postfix(rows=totals["rows"], quarantined=totals["quarantined"], refresh=False)
            bar.update(1)

        mappings = load_mappings([settings.sources_dir])
        rules = value_rules(
            settings.earliest_order_date, settings.rates_dir, settings.reporting_currency, settings.reporting_timezone
        )
        summary = load_landing(
            settings.warehouse.url(),
            folder,
            mappings,
            on_file=advance,
            reload=frozenset(reload),
            rules=rules,
            stable_seconds=settings.landing_stable_seconds,
        )
    rate = summary.rows_loaded / summary.seconds if summary.seconds else 0
    say(
        f"files loaded {summary.count('loaded')}, rejected {summary.count('rejected')}, skipped {summary.count('skipped')}, "
        f"unmatched {summary.count('unmatched')}, refused {summary.count('refused')}, waiting {summary.count('waiting')}; "
        f"rows loaded {summary.rows_loaded} ({rate:,.0f} rows/s), quarantined {summary.rows_quarantined}"
    )
    print_file_problems(summary.mapping_errors, [vars(result) for result in summary.files])
    if summary.lines_after_last_rate:
        say("note: " + rates_out_of_date_note(summary.lines_after_last_rate, rules, settings.rates_dir))
    return 1 if summary.problems or summary.mapping_errors else 0


def print_file_problems(mapping_errors: list[str], files: list[dict]) -> None:
    """What a person must look at, file by file: mappings that could not be read, files rejected,
    unmatched, refused or loaded with quarantined rows (with their top reasons), and why files were
    skipped or wait."""
    for error in mapping_errors:
        say(f"  mapping out of action: {error}")
    skipped = [result for result in files if result["status"] == "skipped"]
    for result in skipped[:SKIPPED_FILES_SHOWN]:
        say(f"  skipped {result['file_name']}: {result['error']}")
    if len(skipped) > SKIPPED_FILES_SHOWN:
        say(f"  ... and {len(skipped) - SKIPPED_FILES_SHOWN} more skipped files, each loaded or rejected before")
    for result in files:
        name, status = result["file_name"], result["status"]
        if status in ("rejected", "unmatched", "refused", "waiting"):
            say(f"  {status} {name}: {result['error']}")
        elif result["rows_quarantined"]:
            reasons = "; ".join(f"{reason}: {rows} (e.g. line {line})" for reason, rows, line in result["top_reasons"])
            say(f"  loaded {name} with {result['rows_quarantined']} row(s) quarantined: {reasons}")


def preview(settings: Settings, path: Path) -> int:
    from ingestion.preview import preview_file, render
    from ingestion.sources import load_mappings
    from orchestration.ingestion_assets import value_rules

    if not path.is_file():
        say(f"{path}: no such file")
        return 2
    mappings = load_mappings([settings.sources_dir])
    for error in mappings.errors:
        say(f"mapping out of action: {error}")
    result = preview_file(
        path,
        mappings,
        rules=value_rules(
            settings.earliest_order_date, settings.rates_dir, settings.reporting_currency, settings.reporting_timezone
        ),
    )
    say(render(result))
    return 0 if result.mapping is not None and result.rejection is None else 1
