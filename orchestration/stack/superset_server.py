"""Apache Superset of the local stack: its own virtualenv, metadata in PostgreSQL, served by gunicorn."""

from __future__ import annotations

import os
import subprocess

import psycopg

from orchestration.settings import REPO_ROOT, Settings
from orchestration.stack import processes

SUPERSET_VENV = REPO_ROOT / ".venv-superset"
SERVICE = "superset"
# Bump when the initialisation steps change, so existing stacks run them again.
INIT_VERSION = "6.1.0-2"


def _bin(name: str) -> str:
    path = SUPERSET_VENV / "bin" / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make bootstrap` (or `make run`) to install Superset")
    return str(path)


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.stack_env(), "PYTHONUNBUFFERED": "1"}


def initialise(settings: Settings, log=print) -> None:
    """Migrate the metadata database, create the admin, sync roles; once per stack and Superset version."""
    marker = settings.superset_home / ".initialised"
    if marker.exists() and marker.read_text() == INIT_VERSION:
        return
    settings.superset_home.mkdir(parents=True, exist_ok=True)
    steps = [
        ("migrating Superset's metadata database", ["db", "upgrade"]),
        (
            "creating the Superset admin",
            [
                "fab",
                "create-admin",
                "--username",
                settings.superset_admin_user,
                "--firstname",
                "Shop",
                "--lastname",
                "Admin",
                "--email",
                "admin@localhost",
            ],
        ),
        ("initialising Superset roles and permissions", ["init"]),
    ]
    # The admin's password reaches `fab create-admin` through the variable click reads for its
    # --password option: a command line is readable by every user of the machine.
    env = {**_env(settings), "FLASK_FAB_CREATE_ADMIN_PASSWORD": settings.superset_admin_password}
    with open(settings.log_dir / "superset-init.log", "ab") as init_log:
        for description, arguments in steps:
            log(f"  {description} ...")
            result = subprocess.run(
                [_bin("superset"), *arguments],
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=init_log,
                stderr=subprocess.STDOUT,
            )
            if result.returncode != 0:
                raise RuntimeError(f"Superset step failed ({description}); see {settings.log_dir / 'superset-init.log'}")
    _mask_passwords_logged_before(settings)
    marker.write_text(INIT_VERSION)


def _mask_passwords_logged_before(settings: Settings) -> None:
    """Until superset_config.py masked secrets in Superset's event log, every publication left the
    read-only role's password there in plain text, in the `passwords` field of the asset import."""
    with psycopg.connect(settings.superset_metadata.url(), autocommit=True) as conn:
        conn.execute(
            r"""update logs set json = regexp_replace(json, '"passwords": "(\\.|[^"\\])*"', '"passwords": "XXXXXXXXXX"', 'g')
                where json like '%"passwords": "{%'"""
        )


def is_running(settings: Settings) -> bool:
    return processes.is_running(settings.run_dir, SERVICE)


def gunicorn_arguments(port: int, workers: int, threads: int) -> list[str]:
    """gunicorn's command line for Superset on 127.0.0.1:`port`. gthread workers: a thread waiting
    for PostgreSQL lets the worker's other threads serve, so a few processes (about 350 MiB each)
    carry many concurrent dashboard readers."""
    return [
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--bind",
        f"127.0.0.1:{port}",
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "superset.app:create_app()",
    ]


def start(settings: Settings) -> None:
    if is_running(settings):
        return
    argv = [
        _bin("gunicorn"),
        *gunicorn_arguments(settings.superset_port, settings.superset_web_workers, settings.superset_web_threads),
    ]
    # Started from the repository root on purpose: superset/ here has no __init__.py, so the real
    # apache-superset package is the one imported.
    processes.start_background(
        SERVICE, argv, env=_env(settings), cwd=REPO_ROOT, run_dir=settings.run_dir, log_dir=settings.log_dir
    )
    processes.wait_for_http(
        f"{settings.superset_url}/health",
        timeout=180,
        alive=lambda: is_running(settings),
        what="Superset",
        log=settings.log_dir / f"{SERVICE}.log",
    )


def stop(settings: Settings) -> bool:
    return processes.stop_process_group(settings.run_dir, SERVICE)
