"""`ecom`: the project's command line. Starts and stops the local stack and runs the pipeline."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from expectations.gx_project import data_docs_index
from orchestration.settings import Settings, load_settings
from orchestration.stack import dagster_server, postgres, private_state, superset_server

LOCATION_NAME = "ecommerce_analytics"
PIPELINE_JOB = "full_pipeline"
SKIPPED_FILES_SHOWN = 10
RUN_SUCCEEDED_WITH_PROBLEMS = 3  # `ecom run`'s exit status when the run succeeded but a check failed as a warning
# Seconds `ecom run` waits before each new attempt to reach the Dagster webserver or its database:
# about a minute for a restarted PostgreSQL or webserver to answer again.
RETRY_DELAYS = (1, 2, 4, 8, 15, 30)
# Tags the run `ecom run` submits, so an attempt cut off halfway can be told from a new run.
LAUNCH_TAG = "ecom/launch_id"


def say(message: str) -> None:
    print(message, flush=True)


def _export_stack_env(settings: Settings) -> None:
    # dbt, Dagster's instance and the pipeline code read their connections from the environment.
    os.environ.update(settings.stack_env())


def ensure_warehouse(settings: Settings) -> None:
    """The embedded PostgreSQL running (unless WAREHOUSE_URL points elsewhere), with schemas and roles."""
    if settings.embedded_postgres:
        settings.home.mkdir(parents=True, exist_ok=True)
        if postgres.init_cluster(settings):
            say(f"PostgreSQL: created a new cluster in {settings.pgdata_dir}")
        if not postgres.is_running(settings):
            postgres.start(settings)
        postgres.ensure_roles_and_databases(settings)
        say(f"PostgreSQL: running on 127.0.0.1:{settings.pg_port}")
    postgres.ensure_warehouse_objects(settings)


def up(settings: Settings, with_daemon: bool = True) -> None:
    started = time.monotonic()
    private_state.create_private_folders(settings)
    _export_stack_env(settings)
    ensure_warehouse(settings)

    from orchestration.dbt_cli import prepare_manifest

    say("dbt: parsing the project")
    prepare_manifest()

    if not superset_server.is_running(settings):
        superset_server.initialise(settings, log=say)
        say("Superset: starting")
        superset_server.start(settings)
    say(f"Superset: serving on {settings.superset_url}")
    if not dagster_server.is_running(settings, dagster_server.WEBSERVER):
        say("Dagster: starting the webserver")
    dagster_server.start(settings, with_daemon=False)
    say(f"Dagster: serving on {settings.dagster_url}")
    if with_daemon:
        start_daemon(settings)
    say(f"Stack up in {time.monotonic() - started:.0f} s")


def start_daemon(settings: Settings) -> None:
    if not dagster_server.is_running(settings, dagster_server.DAEMON):
        say("Dagster: starting the daemon (schedules, sensors, run queue)")
        dagster_server.start(settings)


def down(settings: Settings) -> None:
    for service in dagster_server.stop(settings):
        say(f"stopped {service}")
    if superset_server.stop(settings):
        say("stopped superset")
    if settings.embedded_postgres and postgres.stop(settings):
        say("stopped postgres")


def status(settings: Settings) -> dict:
    services = {
        "dagster-webserver": dagster_server.is_running(settings, dagster_server.WEBSERVER),
        "dagster-daemon": dagster_server.is_running(settings, dagster_server.DAEMON),
        "superset": superset_server.is_running(settings),
    }
    if settings.embedded_postgres:
        services["postgres"] = postgres.is_running(settings)
    return {
        "ecom_home": str(settings.home),
        "landing_dir": str(settings.landing_dir),
        "warehouse_url": settings.warehouse.redacted_url(),
        "embedded_postgres": settings.embedded_postgres,
        "dagster_url": settings.dagster_url,
        "superset_url": settings.superset_url,
        "data_docs": str(data_docs_index(settings.home / "gx")),
        "services": {name: {"state": "running" if running else "stopped"} for name, running in services.items()},
    }


def _print_status(report: dict) -> None:
    say(f"ECOM_HOME     {report['ecom_home']}")
    say(f"landing       {report['landing_dir']}")
    say(f"warehouse     {report['warehouse_url']}")
    say(f"Dagster       {report['dagster_url']}")
    say(f"Superset      {report['superset_url']}")
    say(f"Data Docs     {report['data_docs']}")
    for name, service in report["services"].items():
        say(f"  {name:<18} {service['state']}")


def generate(args: argparse.Namespace) -> None:
    """Demo order files that continue what --out (and, with --warehouse, the warehouse) already
    holds: new order and customer ids, days after the last one (see ingestion/demo_history.py)."""
    from ingestion.demo_history import continue_orders

    out = Path(args.out) if args.out else load_settings().landing_dir
    warehouse_url = None
    if args.warehouse is not None:  # --warehouse alone: the stack's warehouse
        warehouse_url = args.warehouse or load_settings().warehouse.url()
    try:
        report = continue_orders(
            out,
            orders=args.orders,
            days=args.days,
            seed=args.seed,
            file_format=args.format,
            defect_rate=args.defects,
            start=date.fromisoformat(args.start) if args.start else None,
            compress=args.gzip,
            warehouse_url=warehouse_url,
        )
    except (ValueError, OSError) as error:
        raise SystemExit(f"ecom generate: {error}") from error
    before = report.continued_from
    if before is None:
        say(f"no earlier orders in {out}{' or the warehouse' if warehouse_url else ''}: a new shop")
    else:
        say(
            f"continuing after order {before.last_order}, customer {before.last_customer}"
            f" and day {before.last_day or 'none'}"
        )
    say(
        f"wrote {len(report.files)} files, {report.orders} orders, {report.lines} lines to {out}"
        f" ({report.first_day} to {report.last_day})"
    )
    if report.last_day > date.today() + timedelta(days=1):
        say("note: the loader quarantines lines dated more than a day after the load ('ordered_at is in the future')")


def ingest(settings: Settings, folder: Path, reload: list[str]) -> int:
    """Load new files from `folder` straight into the warehouse, with a progress bar."""
    from tqdm import tqdm

    from ingestion.loader import load_landing, scan_landing
    from ingestion.sources import display_name, load_mappings
    from orchestration.ingestion_assets import value_rules

    ensure_warehouse(settings)
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
        summary = load_landing(
            settings.warehouse.url(), folder, mappings, on_file=advance, reload=frozenset(reload),
            rules=value_rules(settings), stable_seconds=settings.landing_stable_seconds,
        )
    rate = summary.rows_loaded / summary.seconds if summary.seconds else 0
    say(
        f"files loaded {summary.count('loaded')}, rejected {summary.count('rejected')}, skipped {summary.count('skipped')}, "
        f"unmatched {summary.count('unmatched')}, refused {summary.count('refused')}, waiting {summary.count('waiting')}; "
        f"rows loaded {summary.rows_loaded} ({rate:,.0f} rows/s), quarantined {summary.rows_quarantined}"
    )
    _print_file_problems(summary.mapping_errors, [vars(result) for result in summary.files])
    return 1 if summary.problems or summary.mapping_errors else 0


def _print_file_problems(mapping_errors: list[str], files: list[dict]) -> None:
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
    result = preview_file(path, mappings, rules=value_rules(settings))
    say(render(result))
    return 0 if result.mapping is not None and result.rejection is None else 1


def docs(settings: Settings, serve: bool) -> int:
    """Build the dbt docs (with the warehouse's catalog) and serve them on 127.0.0.1."""
    from orchestration.dbt_cli import DBT_EXECUTABLE
    from orchestration.settings import DBT_PROJECT_DIR

    ensure_warehouse(settings)
    _export_stack_env(settings)
    target = settings.home / "dbt-docs"
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)]
    subprocess.run([DBT_EXECUTABLE, "docs", "generate", *common], check=True)
    say(f"dbt docs written to {target / 'index.html'}")
    if serve:
        port = os.environ.get("ECOM_DBT_DOCS_PORT", "8580")
        say(f"serving the dbt docs on http://127.0.0.1:{port} (Ctrl-C to stop)")
        subprocess.run([DBT_EXECUTABLE, "docs", "serve", *common, "--host", "127.0.0.1", "--port", port, "--no-browser"])
    return 0


def _unreachable(error: BaseException | None) -> bool:
    """Whether `error` means the webserver or Dagster's database did not answer (restarting, or a
    connection that died with the server): worth trying again."""
    import requests
    import sqlalchemy.exc
    from dagster_graphql import DagsterGraphQLClientError

    while error is not None:
        if isinstance(error, (requests.exceptions.ConnectionError, sqlalchemy.exc.OperationalError)):
            return True
        # The webserver answered, but its own database connection had died.
        if isinstance(error, DagsterGraphQLClientError) and error.args[:1] == ("PythonError",) and "OperationalError" in str(error):
            return True
        error = error.__cause__
    return False


def _with_retries(what: str, call):
    """`call()`, tried again with growing pauses (RETRY_DELAYS) while the webserver or Dagster's database is unreachable."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return call()
        except Exception as error:
            if delay is None or not _unreachable(error):
                raise
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
            say(f"  {what}: {reason}; trying again in {delay} s")
            time.sleep(delay)


def _launch_pipeline(settings: Settings, landing_dir: Path | None) -> str:
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=settings.dagster_port)
    run_config = {}
    if landing_dir is not None:
        run_config = {"ops": {"raw__order_lines": {"config": {"landing_dir": str(landing_dir)}}}}
    launch_id = str(uuid.uuid4())

    def submit() -> str:
        # An earlier attempt may have got as far as creating the run: follow it if it was queued;
        # if it was left NOT_STARTED, it would never start, so it is deleted and submitted anew.
        instance = dg.DagsterInstance.get()
        for earlier in instance.get_runs(dg.RunsFilter(tags={LAUNCH_TAG: launch_id})):
            if earlier.status != dg.DagsterRunStatus.NOT_STARTED:
                return earlier.run_id
            say(f"  run {earlier.run_id} was created but never queued: deleting it")
            instance.delete_run(earlier.run_id)
        return client.submit_job_execution(
            PIPELINE_JOB,
            repository_location_name=LOCATION_NAME,
            run_config=run_config,
            tags={"launched_by": "ecom run", LAUNCH_TAG: launch_id},
        )

    return _with_retries("launching the run", submit)


def _follow_run(run_id: str) -> dict:
    """Print each asset and check as the run produces it; return what the run materialized."""
    import dagster as dg

    instance = _with_retries("opening Dagster's instance", dg.DagsterInstance.get)
    materialized: dict[str, dict] = {}
    checks: dict[str, bool] = {}
    ingestion_problems: dict = {}
    failures: list[str] = []
    cursor = None
    while True:
        records = _with_retries("reading the run's events", lambda: instance.get_records_for_run(run_id, cursor=cursor))
        cursor = records.cursor
        for record in records.records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                key = materialization.asset_key.to_user_string()
                materialized[key] = {name: value.value for name, value in materialization.metadata.items()}
                say(f"  materialized {key}")
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                checks[name] = evaluation.passed
                if not evaluation.passed:
                    severity = "WARNING" if evaluation.severity == dg.AssetCheckSeverity.WARN else "FAILED"
                    say(f"  check {severity} {name}")
                    problems = evaluation.metadata.get("problems")
                    if problems is not None:
                        ingestion_problems.update(problems.value)
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                while error.cause is not None:
                    error = error.cause
                failures.append(f"{event.step_key}: {error.message.strip()}")
                say(f"  step FAILED {failures[-1]}")
        run = _with_retries("reading the run's status", lambda: instance.get_run_by_id(run_id))
        if run.is_finished and not records.has_more:
            return {
                "status": run.status.value,
                "materialized": materialized,
                "checks": checks,
                "failures": failures,
                "ingestion_problems": ingestion_problems,
            }
        if not records.has_more:
            time.sleep(1)


def run(settings: Settings, args: argparse.Namespace) -> int:
    landing_dir = Path(args.landing).resolve() if args.landing else None
    target = landing_dir or settings.landing_dir
    target.mkdir(parents=True, exist_ok=True)
    # Demo data first, the daemon last: its landing sensor must neither see a half-written folder
    # nor start a second run for files this run loads. Started after the launch, it finds this run
    # queued and leaves the files to it.
    if not args.no_demo and not any(target.iterdir()):
        from ingestion.demo_data import generate_orders

        say(f"Landing folder {target} is empty: generating demo data")
        # Demo data ends yesterday, so the dashboards and freshness checks look like a live shop.
        start = date.today() - timedelta(days=args.demo_days)
        report = generate_orders(target, orders=args.demo_orders, days=args.demo_days, seed=42, start=start)
        say(f"  wrote {len(report.files)} files, {report.lines} order lines")
    up(settings, with_daemon=False)
    started = time.monotonic()
    run_id = _launch_pipeline(settings, landing_dir)
    say(f"Pipeline run {run_id} launched: {settings.dagster_url}/runs/{run_id}")
    start_daemon(settings)
    outcome = _follow_run(run_id)
    _print_summary(outcome, time.monotonic() - started)
    if outcome["status"] != "SUCCESS":
        return 1
    # Succeeded, but a check warned (a rejected file, quarantined rows): not a clean success either.
    return RUN_SUCCEEDED_WITH_PROBLEMS if not all(outcome["checks"].values()) else 0


def _print_summary(outcome: dict, seconds: float) -> None:
    materialized = outcome["materialized"]
    ingestion = materialized.get("raw/order_lines", {})
    dbt_models = [key for key in materialized if key.split("/")[0] in ("staging", "intermediate", "marts")]
    passed = sum(outcome["checks"].values())
    failed = sorted(name for name, ok in outcome["checks"].items() if not ok)
    say("")
    warnings = " WITH PROBLEMS (see below)" if failed and outcome["status"] == "SUCCESS" else ""
    say(f"Pipeline {outcome['status'].lower()}{warnings} in {seconds:.0f} s")
    if ingestion:
        say(
            f"  files loaded {ingestion.get('files_loaded', 0)}, rejected {ingestion.get('files_rejected', 0)}, "
            f"skipped {ingestion.get('files_skipped', 0)}, unmatched {ingestion.get('files_unmatched', 0)}, "
            f"refused {ingestion.get('files_refused', 0)}, waiting {ingestion.get('files_waiting', 0)}; "
            f"rows loaded {ingestion.get('rows_loaded', 0)}, quarantined {ingestion.get('rows_quarantined', 0)}"
        )
    problems = outcome.get("ingestion_problems") or {}
    _print_file_problems(problems.get("mapping_errors", []), problems.get("files", []))
    say(f"  dbt models and seeds built: {len(dbt_models)}")
    say(f"  checks passed: {passed} of {len(outcome['checks'])}")
    for name in failed:
        say(f"  failed check: {name}")
    for title, url in materialized.get("superset/dashboards", {}).get("dashboard_urls", {}).items():
        say(f"  dashboard {title}: {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the local stack (PostgreSQL, Superset, Dagster)")
    commands.add_parser("down", help="stop every process of the local stack")
    status_parser = commands.add_parser("status", help="show URLs and the state of each service")
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    run_parser = commands.add_parser("run", help="start the stack if needed and materialize every asset once")
    run_parser.add_argument("--landing", help="load order files from this folder instead of the stack's landing folder")
    run_parser.add_argument("--no-demo", action="store_true", help="never generate demo data")
    run_parser.add_argument("--demo-orders", type=int, default=20_000, help="orders of generated demo data")
    run_parser.add_argument("--demo-days", type=int, default=365, help="days of generated demo data")
    docs_parser = commands.add_parser("docs", help="build the dbt docs and serve them")
    docs_parser.add_argument("--no-serve", action="store_true", help="only build them")
    ingest_parser = commands.add_parser("ingest", help="load new order files into the warehouse now (no Dagster run)")
    ingest_parser.add_argument("path", nargs="?", help="folder of order files (default: the landing folder)")
    ingest_parser.add_argument(
        "--reload", action="append", default=[], metavar="FILE", help="load this file (its name in the folder) again even if it was loaded before"
    )
    preview_parser = commands.add_parser("preview", help="show how a file would load (mapping, columns, first rows, quarantine, totals); writes nothing")
    preview_parser.add_argument("file")
    generate_parser = commands.add_parser("generate", help="write deterministic demo order files")
    generate_parser.add_argument("--orders", type=int, required=True)
    generate_parser.add_argument("--days", type=int, required=True)
    generate_parser.add_argument("--seed", type=int, default=42)
    generate_parser.add_argument("--out", help="folder to write to (default: the landing folder)")
    generate_parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
    generate_parser.add_argument("--defects", type=float, default=0.0, help="fraction of bad rows, e.g. 0.01")
    generate_parser.add_argument(
        "--start", help="first day, YYYY-MM-DD (default: the day after the last day in --out, or today minus --days)"
    )
    generate_parser.add_argument(
        "--warehouse", nargs="?", const="", metavar="URL",
        help="also continue after the orders in this warehouse's raw.order_lines (no URL: the stack's warehouse)",
    )
    generate_parser.add_argument("--gzip", action="store_true", help="gzip csv/jsonl files")
    args = parser.parse_args(argv)

    os.umask(private_state.PRIVATE_UMASK)
    settings = load_settings()
    if args.command == "up":
        up(settings)
    elif args.command == "down":
        down(settings)
    elif args.command == "status":
        report = status(settings)
        print(json.dumps(report, indent=2)) if args.json else _print_status(report)
    elif args.command == "run":
        return run(settings, args)
    elif args.command == "generate":
        generate(args)
    elif args.command == "docs":
        return docs(settings, serve=not args.no_serve)
    elif args.command == "ingest":
        return ingest(settings, Path(args.path).resolve() if args.path else settings.landing_dir, args.reload)
    elif args.command == "preview":
        return preview(settings, Path(args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
