"""Dagster's default run launcher, with the run worker health check its run monitoring needs.

DefaultRunLauncher starts each run worker as a process of a code server on this machine. While that
code server lives, it notices a worker that died and fails its run; but when the code server is gone
too (killed with its worker, by the out-of-memory killer, or by a reboot in the middle of a run),
nothing does, and the run stays STARTED until max_runtime_seconds: with one run at a time, that
blocks the queue, the landing sensor and every `ecom run` for hours. DefaultRunLauncher cannot tell
run monitoring whether a worker lives; the worker records its pid when it starts ("Started process
for run (pid: N)"), so on one machine its death can be seen.
"""

from __future__ import annotations

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.stack import processes

WORKER_STARTED_MESSAGE = "Started process for run"


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers run monitoring can see die (local stack only: in docker
    compose the workers live in another container than the daemon)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self._worker_pid(run.run_id)
        if pid is None:  # not started yet: run monitoring's start timeout covers that
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run worker has not reported its pid yet")
        if processes.pid_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run worker (pid {pid}) ended without finishing the run (killed?)", run_worker_id=str(pid)
        )

    def _worker_pid(self, run_id: str) -> int | None:
        for entry in reversed(self._instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
            event = entry.dagster_event
            if event is None or not (entry.message or "").startswith(WORKER_STARTED_MESSAGE):
                continue
            pid = event.engine_event_data.metadata.get("pid")
            if pid is not None:
                return int(pid.value)
        return None
