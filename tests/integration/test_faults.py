"""Fault injection on the shared stack: a loader, PostgreSQL and the Dagster daemon killed (kill -9)
mid-run, Superset down during publication, a run that never starts. Each is followed by the next run
without any manual step, and ends with raw = facts = marts to the cent. (A defect injected into the
candidate marts: test_operations.py.)"""

import os
import signal
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests

from orchestration.sensors import IN_FLIGHT
from orchestration.stack import processes

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def wait_for(predicate, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } }
}
"""


def graphql(stack, query: str) -> dict:
    response = requests.post(f"{stack.settings.dagster_url}/graphql", json={"query": query}, timeout=60)
    payload = response.json()
    assert not payload.get("errors"), payload
    return payload["data"]


@pytest.fixture
def instance(stack, monkeypatch):
    stack_env = stack.settings.stack_env()
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, stack_env[name])
    instance = dg.DagsterInstance.get()
    # Every fault starts on an idle stack: no run of an earlier test still queued or going.
    assert wait_for(lambda: not instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)), timeout=600), "the stack never became idle"
    yield instance


def drop_next_day(stack, orders: int, seed: int) -> date:
    """One more day of the demo shop in the landing folder, where the landing sensor finds it."""
    with stack.warehouse() as conn:
        last = conn.execute("select max(ordered_at)::date from raw.order_lines").fetchone()[0]
    day = last + timedelta(days=1)
    generated = stack.ecom(
        "generate",
        "--orders",
        str(orders),
        "--days",
        "1",
        "--seed",
        str(seed),
        "--start",
        day.isoformat(),
        "--out",
        str(stack.settings.landing_dir),
    )
    assert generated.returncode == 0, generated.stderr
    return day


def day_in_marts(stack, day: date) -> bool:
    with stack.warehouse() as conn:
        row = conn.execute("select orders from marts.kpi_daily where order_date = %s", (day,)).fetchone()
    return row is not None and row[0] > 0


def started_run(instance) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(job_name="full_pipeline", statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
    return runs[0] if runs else None


def worker_pid(instance, run_id: str) -> int | None:
    """The run worker's pid, as it reported it when it started (what LocalRunLauncher checks)."""
    from orchestration.stack.run_launcher import LocalRunLauncher

    return LocalRunLauncher._worker_pid(instance.run_launcher, run_id)


def dbt_running(stack) -> bool:
    with stack.warehouse(autocommit=True) as conn:
        return (
            conn.execute("select count(*) from pg_stat_activity where application_name = 'dbt' and state = 'active'").fetchone()[
                0
            ]
            > 0
        )


def loading(stack) -> bool:
    """Whether the loader is in the middle of its transaction: it has written to the warehouse."""
    with stack.warehouse(autocommit=True) as conn:
        return (
            conn.execute(
                "select count(*) from pg_stat_activity where application_name = 'ecom-ingestion' and backend_xid is not null"
            ).fetchone()[0]
            > 0
        )


def alerted(stack, alert_webhook, run_id: str) -> bool:
    with stack.warehouse() as conn:
        if conn.execute("select to_regclass('ops.alerts')").fetchone()[0] is None:  # made by the first alert
            return False
        recorded = conn.execute("select delivered from ops.alerts where run_id = %s", (run_id,)).fetchone()
    return bool(recorded and recorded[0] and any(payload["run_id"] == run_id for payload in alert_webhook))


def service_pids(stack) -> dict[str, int | None]:
    return {name: processes.read_pid(stack.settings.run_dir, name) for name in ("dagster-webserver", "dagster-daemon")}


def daemon_process(stack) -> int | None:
    """The dagster-daemon process its supervisor (the pid file's process) runs."""
    supervisor = processes.read_pid(stack.settings.run_dir, "dagster-daemon")
    for stat in os.scandir("/proc"):
        if not stat.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{stat.name}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{stat.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            int(fields[1]) == supervisor
            and any(part.endswith(b"dagster-daemon") for part in command)
            and processes.pid_alive(int(stat.name))
        ):
            return int(stat.name)
    return None


def daemons_healthy(stack) -> bool:
    statuses = graphql(stack, "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }")
    return all(s["healthy"] for s in statuses["instance"]["daemonHealth"]["allDaemonStatuses"] if s["required"])


def test_postgres_killed_during_dbt_then_the_next_run_recovers_without_help(stack, instance, alert_webhook):
    services = service_pids(stack)
    day = drop_next_day(stack, orders=300, seed=32)
    run = wait_for(lambda: started_run(instance), timeout=240, interval=0.5)
    assert run, "the landing sensor started no run for the new file"
    assert wait_for(lambda: dbt_running(stack), timeout=300, interval=0.1), "dbt never ran"
    postmaster = int((stack.settings.pgdata_dir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    assert wait_for(lambda: not processes.pid_alive(postmaster), timeout=30, interval=0.2)

    # The next run: `ecom run` starts PostgreSQL again, waits for the webserver and the queue, and
    # rebuilds the half-built candidate in full.
    recovered = stack.ecom("run", "--no-demo")
    assert recovered.returncode == 0, recovered.stdout[-4000:] + recovered.stderr[-2000:]
    assert day_in_marts(stack, day)
    totals = stack.assert_reconciled()
    print(f"\nafter PostgreSQL was killed during dbt: {totals}")
    with stack.warehouse() as conn:
        assert conn.execute("select candidate_state from ops.publication").fetchone()[0] == "published"
    # The webserver and the daemon were not restarted: they reconnected by themselves.
    assert service_pids(stack) == services
    assert graphql(stack, "{ runsOrError(limit: 1) { __typename } }")["runsOrError"]["__typename"] == "Runs"
    assert wait_for(lambda: daemons_healthy(stack), timeout=180), "the daemon did not report healthy after the restart"
    # The run cut off by the crash is failed (by itself, or by run monitoring) and alerted.
    assert wait_for(lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE, timeout=120)
    assert wait_for(lambda: alerted(stack, alert_webhook, run.run_id), timeout=120), "no alert for the cut-off run"


def test_a_killed_daemon_is_started_again_and_its_run_and_the_sensor_carry_on(stack, instance):
    day = drop_next_day(stack, orders=300, seed=33)
    run = wait_for(lambda: started_run(instance), timeout=240, interval=0.5)
    assert run, "the landing sensor started no run for the new file"
    daemon = daemon_process(stack)
    os.kill(daemon, signal.SIGKILL)
    killed_at = time.time()
    assert wait_for(lambda: (restarted := daemon_process(stack)) and restarted != daemon, timeout=60, interval=0.5), (
        "the daemon was not started again"
    )

    # The run in flight finishes (its worker belongs to a code server, not to the daemon).
    assert wait_for(lambda: instance.get_run_by_id(run.run_id).is_finished, timeout=600)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert day_in_marts(stack, day)
    stack.assert_reconciled()
    # The restarted daemon evaluates the landing sensor again and reports healthy.
    sensor = next(s for s in instance.all_instigator_state() if s.name == "landing_folder_sensor")

    def sensor_ticked_since_the_kill() -> bool:
        return bool(instance.get_ticks(sensor.instigator_origin_id, sensor.selector_id, after=killed_at, limit=1))

    assert wait_for(sensor_ticked_since_the_kill, timeout=120), "the restarted daemon never evaluated the landing sensor"
    assert wait_for(lambda: daemons_healthy(stack), timeout=120)


def test_superset_down_during_publication_then_the_next_run_publishes(stack, instance, alert_webhook):
    from ecom_superset.bundle import load_assets
    from ecom_superset.publisher import Superset

    def dashboards_and_chart() -> list[dict]:
        superset = Superset(
            stack.settings.superset_url, stack.settings.superset_admin_user, stack.settings.superset_admin_password
        )
        for dashboard in load_assets().dashboards:
            superset.id_by_uuid("dashboard", dashboard.uuid)
        chart = next(c for c in load_assets().charts if c.spec["viz_type"] == "echarts_timeseries_line")
        chart_id = superset.id_by_uuid("chart", chart.uuid)
        response = superset.client.get(f"{superset.url}/api/v1/chart/{chart_id}/data/", params={"force": "true"})
        response.raise_for_status()
        return response.json()["result"][0]["data"]

    before = dashboards_and_chart()
    assert processes.stop_process_group(stack.settings.run_dir, "superset")
    # The Superset part of the publication, as a run reaches it once the marts are published.
    publication = [["superset", "dataset", "kpi_daily"], ["superset", "dashboards"]]
    launched = requests.post(
        f"{stack.settings.dagster_url}/graphql",
        json={
            "query": LAUNCH,
            "variables": {
                "params": {
                    "selector": {
                        "repositoryLocationName": "ecommerce_analytics",
                        "repositoryName": "__repository__",
                        "jobName": "full_pipeline",
                        "assetSelection": [{"path": path} for path in publication],
                    },
                    "runConfigData": {},
                }
            },
        },
        timeout=120,
    ).json()["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    assert wait_for(lambda: instance.get_run_by_id(run_id).is_finished, timeout=600)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    failed_steps = {e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)}
    assert failed_steps and all(step.startswith("superset") for step in failed_steps), failed_steps
    assert wait_for(lambda: alerted(stack, alert_webhook, run_id), timeout=120), "no alert for the failed publication"

    recovered = stack.ecom("run", "--no-demo")
    assert recovered.returncode == 0, recovered.stdout[-4000:] + recovered.stderr[-2000:]
    stack.assert_reconciled()
    assert dashboards_and_chart() == before


def test_a_run_that_never_starts_is_failed_and_alerted(stack, instance, alert_webhook):
    finished = instance.get_runs(dg.RunsFilter(job_name="full_pipeline", statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1)[0]
    # What a submission cut off halfway leaves: the run is created, never queued, never started.
    stuck = dg.DagsterRun(
        job_name=finished.job_name,
        run_id=str(uuid.uuid4()),
        run_config=finished.run_config,
        asset_selection=finished.asset_selection,
        status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"test": "never started"},
        job_snapshot_id=finished.job_snapshot_id,
        execution_plan_snapshot_id=finished.execution_plan_snapshot_id,
        remote_job_origin=finished.remote_job_origin,
        job_code_origin=finished.job_code_origin,
    )
    instance.add_run(stuck)
    # Created an hour ago, instead of waiting for run monitoring's start timeout.
    with stack.superuser("dagster") as conn:
        conn.execute("update runs set create_timestamp = create_timestamp - interval '1 hour' where run_id = %s", (stuck.run_id,))

    assert wait_for(lambda: instance.get_run_by_id(stuck.run_id).status == dg.DagsterRunStatus.FAILURE, timeout=240), (
        "run monitoring never failed the run"
    )
    assert wait_for(lambda: alerted(stack, alert_webhook, stuck.run_id), timeout=180), "no alert for the run that never started"
    with stack.warehouse() as conn:
        assert "to start" in conn.execute("select message from ops.alerts where run_id = %s", (stuck.run_id,)).fetchone()[0]


def test_a_loader_killed_mid_load_fails_its_run_at_once_and_the_sensor_loads_the_file_again(stack, instance, alert_webhook):
    # Last of the faults: the file (about 40,000 lines) makes every later build of the stack longer.
    day = drop_next_day(stack, orders=20_000, seed=31)
    # The landing sensor starts a run; its worker runs the load (in-process executor).
    run = wait_for(lambda: (r := started_run(instance)) and worker_pid(instance, r.run_id) and r, timeout=240, interval=0.5)
    assert run, "the landing sensor started no run for the new file"
    assert wait_for(lambda: loading(stack), timeout=240, interval=0.01), "no load seen"
    os.kill(worker_pid(instance, run.run_id), signal.SIGKILL)

    # The worker's death is seen (by its code server, else by run monitoring) and the run failed: the
    # alert goes out and the queue is free, instead of a run STARTED for hours.
    killed_at = time.monotonic()
    assert wait_for(lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE, timeout=120)
    print(f"\nkilled run failed after {time.monotonic() - killed_at:.0f} s")
    assert wait_for(lambda: alerted(stack, alert_webhook, run.run_id), timeout=120), "no alert for the killed run"

    # Nothing of the file was kept; the sensor tries it again and loads it exactly once.
    assert wait_for(lambda: day_in_marts(stack, day), timeout=600), "the sensor's next run never published the day"
    assert wait_for(lambda: not instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)), timeout=300)
    file_name = f"orders_{day.isoformat()}.csv"
    with stack.warehouse() as conn:
        manifest = conn.execute(
            "select file_id, status, rows_loaded from ops.ingested_files where file_name = %s", (file_name,)
        ).fetchall()
        assert len(manifest) == 1 and manifest[0][1] == "loaded", manifest
        in_raw = conn.execute("select count(*) from raw.order_lines where file_id = %s", (manifest[0][0],)).fetchone()[0]
    with open(stack.settings.landing_dir / file_name) as export:
        assert in_raw == manifest[0][2] == sum(1 for _ in export) - 1
    stack.assert_reconciled()
