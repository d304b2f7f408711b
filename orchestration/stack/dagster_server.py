"""Dagster webserver and daemon of the local stack (the daemon runs schedules, sensors and the run queue)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestration.settings import REPO_ROOT, Settings
from orchestration.stack import processes

WEBSERVER = "dagster-webserver"
DAEMON = "dagster-daemon"
INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def write_instance_config(settings: Settings) -> None:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.stack_env(), "PYTHONUNBUFFERED": "1"}


def is_running(settings: Settings, service: str) -> bool:
    return processes.is_running(settings.run_dir, service)


def start(settings: Settings, with_daemon: bool = True) -> None:
    """The webserver, and the daemon (schedules, sensors, the run queue) unless with_daemon is False."""
    write_instance_config(settings)
    workspace = str(REPO_ROOT / "workspace.yaml")
    services = {
        # --db-pool-recycle 0: the webserver opens a database connection per use, as the daemon does,
        # instead of keeping one that dies with a PostgreSQL restart and fails the next request.
        WEBSERVER: [
            _bin("dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(settings.dagster_port),
            "-w",
            workspace,
            "--db-pool-recycle",
            "0",
        ],
        # Supervised: started again if it dies, so schedules, sensors and the run queue never stop for good.
        DAEMON: [sys.executable, "-m", "orchestration.stack.supervisor", _bin("dagster-daemon"), "run", "-w", workspace],
    }
    if not with_daemon:
        del services[DAEMON]
    for service, argv in services.items():
        if not is_running(settings, service):
            processes.start_background(
                service, argv, env=_env(settings), cwd=REPO_ROOT, run_dir=settings.run_dir, log_dir=settings.log_dir
            )
    processes.wait_for_http(
        f"{settings.dagster_url}/server_info",
        timeout=180,
        alive=lambda: is_running(settings, WEBSERVER),
        what="Dagster webserver",
        log=settings.log_dir / f"{WEBSERVER}.log",
    )


def stop(settings: Settings) -> list[str]:
    return [service for service in (DAEMON, WEBSERVER) if processes.stop_process_group(settings.run_dir, service)]
