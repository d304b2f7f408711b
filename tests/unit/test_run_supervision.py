"""The local stack's supervision: the daemon's supervisor starts a dead server again, and the run
launcher tells run monitoring when a run worker died."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import create_run_for_test, instance_for_test

from orchestration.stack.run_launcher import WORKER_STARTED_MESSAGE


def test_the_supervisor_starts_a_dead_server_again_and_stops_on_sigterm(tmp_path):
    starts = tmp_path / "starts"
    server = f"open({str(starts)!r}, 'a').write('started\\n'); raise SystemExit(1)"
    supervisor = subprocess.Popen([sys.executable, "-m", "orchestration.stack.supervisor", sys.executable, "-c", server])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not starts.exists() or starts.read_text().count("started") < 3):
        time.sleep(0.1)
    assert starts.read_text().count("started") >= 3  # started, died, started again after 1 s, then 2 s
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 0


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_run_monitoring_learns_that_a_run_worker_died():
    launcher = {"module": "orchestration.stack.run_launcher", "class": "LocalRunLauncher"}
    with instance_for_test(overrides={"run_launcher": launcher}) as instance:
        assert instance.run_launcher.supports_check_run_worker_health

        def health(worker: int | None) -> WorkerStatus:
            run = create_run_for_test(instance, job_name="full_pipeline", status=dg.DagsterRunStatus.STARTED)
            if worker is not None:
                instance.report_engine_event(
                    f"{WORKER_STARTED_MESSAGE} (pid: {worker}).", run, EngineEventData.in_process(worker)
                )
            return instance.run_launcher.check_run_worker_health(run).status

        assert health(None) == WorkerStatus.RUNNING  # not started yet: the start timeout's business
        assert health(os.getpid()) == WorkerStatus.RUNNING
        assert health(_dead_pid()) == WorkerStatus.FAILED
