"""Recovery without a person: PostgreSQL killed under the running stack, a run that cannot start."""

import os
import signal
import time
import uuid

import dagster as dg
import pytest
import requests

from orchestration.stack import processes

pytestmark = pytest.mark.integration


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


def test_after_postgres_is_killed_and_restarted_the_stack_runs_the_pipeline_by_itself(stack):
    dagster_pids = {name: processes.read_pid(stack.settings.run_dir, name) for name in ("dagster-webserver", "dagster-daemon")}
    postmaster = int((stack.settings.pgdata_dir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    assert wait_for(lambda: not processes.pid_alive(postmaster), timeout=30, interval=0.2)

    up = stack.ecom("up")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    # The webserver and the daemon were not restarted: they reconnect by themselves.
    assert {name: processes.read_pid(stack.settings.run_dir, name) for name in dagster_pids} == dagster_pids
    # The webserver's first query after the restart reads the run storage without an error.
    assert graphql(stack, "{ runsOrError(limit: 1) { __typename } }")["runsOrError"]["__typename"] == "Runs"

    def daemons_healthy():
        statuses = graphql(stack, "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }")
        return all(s["healthy"] for s in statuses["instance"]["daemonHealth"]["allDaemonStatuses"] if s["required"])

    assert wait_for(daemons_healthy, timeout=180), "the daemon did not report healthy after the restart"

    # A run of the pipeline goes through the webserver, the daemon's queue and a run worker, as
    # `ecom run`'s does; only the load step, to keep the test short.
    launched = requests.post(
        f"{stack.settings.dagster_url}/graphql",
        json={"query": LAUNCH, "variables": {"params": {
            "selector": {"repositoryLocationName": "ecommerce_analytics", "repositoryName": "__repository__",
                         "jobName": "full_pipeline", "assetSelection": [{"path": ["raw", "order_lines"]}]},
            "runConfigData": {},
        }}},
        timeout=120,
    ).json()
    assert launched["data"]["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["data"]["launchRun"]["run"]["runId"]

    def finished():
        status = graphql(stack, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status }} }} }}')["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert wait_for(finished, timeout=300) == "SUCCESS"


def test_a_run_that_never_starts_is_failed_and_alerted(stack, alert_webhook, monkeypatch):
    stack_env = stack.settings.stack_env()
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, stack_env[name])
    instance = dg.DagsterInstance.get()
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

    def failed():
        return instance.get_run_by_id(stuck.run_id).status == dg.DagsterRunStatus.FAILURE

    assert wait_for(failed, timeout=240), "run monitoring never failed the run"

    def alert():
        with stack.warehouse() as conn:
            exists = conn.execute("select to_regclass('ops.alerts')").fetchone()[0]  # made by the first alert
            return exists and conn.execute("select message, delivered from ops.alerts where run_id = %s", (stuck.run_id,)).fetchone()

    recorded = wait_for(alert, timeout=180)
    assert recorded, "no alert in ops.alerts"
    message, delivered = recorded
    assert "to start" in message and delivered
    assert any(payload["run_id"] == stuck.run_id for payload in alert_webhook)
