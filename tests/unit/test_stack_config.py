"""What the local stack's modules build: gunicorn's command line, Dagster's instance config, where
the embedded PostgreSQL keeps its data, and which failures `ecom run` waits out."""

from pathlib import Path

import pytest
import requests
import sqlalchemy.exc
import yaml
from dagster_graphql import DagsterGraphQLClientError

from orchestration.pipeline_runs import unreachable
from orchestration.settings import load_settings
from orchestration.stack import superset_server

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_CONFIGS = [REPO_ROOT / "orchestration" / "stack" / "dagster.yaml", REPO_ROOT / "docker" / "dagster.yaml"]


def test_superset_is_served_by_threaded_workers_on_loopback():
    arguments = superset_server.gunicorn_arguments(8088, workers=2, threads=16)
    options = dict(zip(arguments[:-1:2], arguments[1:-1:2]))
    assert options["--worker-class"] == "gthread"
    assert (options["--workers"], options["--threads"]) == ("2", "16")
    assert options["--bind"] == "127.0.0.1:8088"
    assert arguments[-1] == "superset.app:create_app()"


def test_superset_serving_is_sized_by_the_environment(monkeypatch):
    assert (load_settings().superset_web_workers, load_settings().superset_web_threads) == (2, 16)
    monkeypatch.setenv("SUPERSET_WEB_WORKERS", "4")
    monkeypatch.setenv("SUPERSET_WEB_THREADS", "8")
    assert (load_settings().superset_web_workers, load_settings().superset_web_threads) == (4, 8)


@pytest.mark.parametrize("path", INSTANCE_CONFIGS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_dagster_fails_runs_that_cannot_start(path):
    from dagster._core.instance.config import dagster_instance_config

    values, _ = dagster_instance_config(str(path.parent), path.name)
    monitoring = values["run_monitoring"]
    assert monitoring["enabled"] is True
    assert 0 < monitoring["start_timeout_seconds"] <= 600
    assert monitoring["poll_interval_seconds"] <= 60
    assert yaml.safe_load(path.read_text())["run_monitoring"] == monitoring


def test_as_root_the_postgres_data_lives_in_the_service_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_PG_SERVICE_DIR", str(tmp_path / "service"))
    monkeypatch.setattr("os.geteuid", lambda: 0)
    as_root = load_settings().pgdata_dir
    assert as_root.parent == tmp_path / "service" / "data"
    assert as_root.name.startswith("home-")
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "other" / "home"))
    assert load_settings().pgdata_dir != as_root, "two stacks, two clusters"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert load_settings().pgdata_dir == tmp_path / "other" / "home" / "pg"


def _raised_from(cause: BaseException) -> DagsterGraphQLClientError:
    try:
        raise DagsterGraphQLClientError("Error when connecting to url http://127.0.0.1:3000/graphql") from cause
    except DagsterGraphQLClientError as error:
        return error


@pytest.mark.parametrize(
    "error, expected",
    [
        (_raised_from(requests.exceptions.ConnectionError("refused")), True),
        (
            DagsterGraphQLClientError(
                "PythonError", "sqlalchemy.exc.OperationalError: server closed the connection unexpectedly"
            ),
            True,
        ),
        (sqlalchemy.exc.OperationalError("select 1", {}, Exception("the database system is starting up")), True),
        (DagsterGraphQLClientError("JobNotFoundError", "full_pipeline"), False),
        (DagsterGraphQLClientError("PythonError", "KeyError: 'raw__order_lines'"), False),
        (ValueError("bad config"), False),
    ],
    ids=["webserver down", "webserver lost its database", "database restarting", "no such job", "a bug", "other"],
)
def test_ecom_run_waits_out_only_an_unreachable_webserver_or_database(error, expected):
    assert unreachable(error) is expected
