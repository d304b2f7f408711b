"""`ecom run`: one run of the whole pipeline through the Dagster webserver, followed event by event,
with a summary and an exit status (0 clean, 1 failed, 3 succeeded with a check that warned)."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from orchestration.console import say
from orchestration.order_files import print_file_problems
from orchestration.settings import Settings
from orchestration.stack.lifecycle import start_daemon, up

LOCATION_NAME = "ecommerce_analytics"
PIPELINE_JOB = "full_pipeline"
RUN_SUCCEEDED_WITH_PROBLEMS = 3  # `ecom run`'s exit status when the run succeeded but a check failed as a warning
# Seconds `ecom run` waits before each new attempt to reach the Dagster webserver or its database:
# about a minute for a restarted PostgreSQL or webserver to answer again.
RETRY_DELAYS = (1, 2, 4, 8, 15, 30)
# Tags the run `ecom run` submits, so an attempt cut off halfway can be told from a new run.
LAUNCH_TAG = "ecom/launch_id"


def unreachable(error: BaseException | None) -> bool:
    """Whether `error` means the webserver or Dagster's database did not answer (restarting, or a
    connection that died with the server): worth trying again."""
    import requests
    import sqlalchemy.exc
    from dagster_graphql import DagsterGraphQLClientError

    while error is not None:
        if isinstance(error, (requests.exceptions.ConnectionError, sqlalchemy.exc.OperationalError)):
            return True
        # The webserver answered, but its own database connection had died.
        if (
            isinstance(error, DagsterGraphQLClientError)
            and error.args[:1] == ("PythonError",)
            and "OperationalError" in str(error)
        ):
            return True
        error = error.__cause__
    return False


def _with_retries(what: str, call):
    """`call()`, tried again with growing pauses (RETRY_DELAYS) while the webserver or Dagster's database is unreachable."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return call()
        except Exception as error:
            if delay is None or not unreachable(error):
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


def run(settings: Settings, *, landing: str | None, demo: bool, demo_orders: int, demo_days: int) -> int:
    """`ecom run`: the stack up, one run of the whole pipeline, followed to its end; the exit status."""
    landing_dir = Path(landing).resolve() if landing else None
    target = landing_dir or settings.landing_dir
    target.mkdir(parents=True, exist_ok=True)
    # Demo data first, the daemon last: its landing sensor must neither see a half-written folder
    # nor start a second run for files this run loads. Started after the launch, it finds this run
    # queued and leaves the files to it.
    if demo and not any(target.iterdir()):
        from ingestion.demo_data import generate_orders

        say(f"Landing folder {target} is empty: generating demo data")
        # Demo data ends yesterday, so the dashboards and freshness checks look like a live shop.
        start = date.today() - timedelta(days=demo_days)
        report = generate_orders(target, orders=demo_orders, days=demo_days, seed=42, start=start)
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
    print_file_problems(problems.get("mapping_errors", []), problems.get("files", []))
    if ingestion.get("exchange_rates_note"):
        say(f"  note: {ingestion['exchange_rates_note']}")
    say(f"  dbt models and seeds built: {len(dbt_models)}")
    say(f"  checks passed: {passed} of {len(outcome['checks'])}")
    for name in failed:
        say(f"  failed check: {name}")
    dashboards = materialized.get("superset/dashboards", {})
    for title, url in dashboards.get("dashboard_urls", {}).items():
        say(f"  dashboard {title}: {url}")
    if dashboards.get("default_period"):
        say(f"  the dashboards open on: {dashboards['default_period']}")
