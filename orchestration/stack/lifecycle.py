"""The local stack as a whole: bring it up (warehouse, migrations, dbt manifest, Superset, Dagster),
stop it, report its state, serve the dbt docs beside it."""

from __future__ import annotations

import os
import re
import subprocess
import time

from expectations.gx_project import data_docs_index
from orchestration.console import say
from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.stack import dagster_server, postgres, private_state, superset_server


def export_stack_env(settings: Settings) -> None:
    # dbt, Dagster's instance and the pipeline code read their connections from the environment.
    os.environ.update(settings.stack_env())


def ensure_warehouse(settings: Settings) -> None:
    """The embedded PostgreSQL running (unless WAREHOUSE_URL points elsewhere), with schemas, roles and
    every table (the one migration step, orchestration/warehouse_migrations.py)."""
    if settings.embedded_postgres:
        settings.home.mkdir(parents=True, exist_ok=True)
        if postgres.init_cluster(settings):
            say(f"PostgreSQL: created a new cluster in {settings.pgdata_dir}")
        if not postgres.is_running(settings):
            postgres.start(settings)
        postgres.ensure_roles_and_databases(settings)
        say(f"PostgreSQL: running on 127.0.0.1:{settings.pg_port}")
    postgres.ensure_warehouse_objects(settings)
    # Imported here: the loader's imports would slow down `ecom status` and `ecom down`.
    from orchestration.warehouse_migrations import migrate

    for migration in migrate(settings.warehouse.url()):
        say(f"PostgreSQL: applied migration {migration}")


def up(settings: Settings, with_daemon: bool = True) -> None:
    started = time.monotonic()
    private_state.create_private_folders(settings)
    export_stack_env(settings)
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
        "data_docs": str(data_docs_index(settings.gx_dir)),
        "services": {name: {"state": "running" if running else "stopped"} for name, running in services.items()},
    }


def print_status(report: dict) -> None:
    say(f"ECOM_HOME     {report['ecom_home']}")
    say(f"landing       {report['landing_dir']}")
    say(f"warehouse     {report['warehouse_url']}")
    say(f"Dagster       {report['dagster_url']}")
    say(f"Superset      {report['superset_url']}")
    say(f"Data Docs     {report['data_docs']}")
    for name, service in report["services"].items():
        say(f"  {name:<18} {service['state']}")


# dbt docs loads dbt Labs' Snowplow tracker from a CDN when the manifest says usage stats are on.
_DBT_DOCS_TRACKER = re.compile(r"//[a-z0-9]+\.cloudfront\.net/[0-9.]+/sp\.js")


def dbt_docs(settings: Settings, serve: bool) -> int:
    """Build the dbt docs (with the warehouse's catalog) as one HTML file that opens from disk, with no
    server and no internet, and serve them on 127.0.0.1 unless `serve` is off."""
    from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_vars

    ensure_warehouse(settings)
    export_stack_env(settings)
    target = settings.home / "dbt-docs"
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)]
    # --static also writes static_index.html, the page with the manifest and catalog inside it. With
    # usage stats off, the page never loads the tracker; its URL is removed from the file as well.
    subprocess.run(
        [
            DBT_EXECUTABLE,
            "--no-send-anonymous-usage-stats",
            "docs",
            "generate",
            "--static",
            *common,
            *dbt_vars(settings.reporting_currency),
        ],
        check=True,
    )
    static_page = target / "static_index.html"
    static_page.write_text(_DBT_DOCS_TRACKER.sub("", static_page.read_text(encoding="utf-8")), encoding="utf-8")
    say(f"dbt docs written to {static_page} (open it in a browser; it needs no server)")
    if serve:
        port = str(settings.dbt_docs_port)
        say(f"serving the dbt docs on http://127.0.0.1:{port} (Ctrl-C to stop)")
        subprocess.run([DBT_EXECUTABLE, "docs", "serve", *common, "--host", "127.0.0.1", "--port", port, "--no-browser"])
    else:
        say(f"to serve them instead: ecom docs (http://127.0.0.1:{settings.dbt_docs_port})")
    return 0
