"""superset/superset_config.py refuses the shipped secrets outside SUPERSET_ENV=local and masks secrets in logged events."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "superset" / "superset_config.py"
BASE_ENV = {"SUPERSET_METADATA_URL": "postgresql+psycopg2://u:p@127.0.0.1/superset", "PATH": "/usr/bin:/bin"}


# The config subclasses Superset's event logger. Superset lives in its own virtualenv and takes seconds
# to import, so these checks of the config's own logic give it a stand-in module.
SUPERSET_EVENT_LOGGER_STANDIN = (
    "import sys, types; log = types.ModuleType('superset.utils.log'); log.DBEventLogger = object;"
    " sys.modules.update({'superset': types.ModuleType('superset'), 'superset.utils': types.ModuleType('superset.utils'),"
    " 'superset.utils.log': log});"
)


def load_config(**env: str) -> subprocess.CompletedProcess:
    code = SUPERSET_EVENT_LOGGER_STANDIN + (
        f"import runpy; config = runpy.run_path({str(CONFIG)!r}); print(config['SECRET_KEY'], config['DATA_CACHE_CONFIG']['CACHE_TYPE'])"
    )
    return subprocess.run([sys.executable, "-c", code], env={**BASE_ENV, **env}, capture_output=True, text=True)


def test_local_mode_runs_with_the_shipped_defaults():
    result = load_config(SUPERSET_ENV="local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["local-only-superset-secret-key-change-me", "FileSystemCache"]


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "SUPERSET_SECRET_KEY"),
        ({"SUPERSET_SECRET_KEY": "local-only-superset-secret-key-change-me"}, "SUPERSET_SECRET_KEY"),
        ({"SUPERSET_SECRET_KEY": "a-private-key"}, "SUPERSET_ADMIN_PASSWORD"),
        ({"SUPERSET_SECRET_KEY": "a-private-key", "SUPERSET_ADMIN_PASSWORD": "admin"}, "SUPERSET_ADMIN_PASSWORD"),
    ],
)
def test_other_modes_refuse_the_shipped_secrets(env, message):
    result = load_config(SUPERSET_ENV="production", **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_with_private_secrets_and_redis():
    result = load_config(
        SUPERSET_ENV="production",
        SUPERSET_SECRET_KEY="k3y",
        SUPERSET_ADMIN_PASSWORD="s3cret",
        SUPERSET_CACHE_REDIS_URL="redis://cache:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k3y", "RedisCache"]


def redact(payload) -> object:
    code = SUPERSET_EVENT_LOGGER_STANDIN + (
        f"import json, runpy, sys; config = runpy.run_path({str(CONFIG)!r});"
        " print(json.dumps(config['redact_secrets'](json.loads(sys.stdin.read()))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**BASE_ENV, "SUPERSET_ENV": "local"},
        input=json.dumps(payload),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_logged_events_keep_their_fields_with_every_secret_masked():
    event = {
        "path": "/api/v1/assets/import/",
        # the form field of an asset import, JSON in a string
        "passwords": json.dumps({"databases/warehouse.yaml": "s3cret"}),
        "object_ref": "ImportExportRestApi.import_",
        "rison": {"filters": [{"col": "uuid", "value": "abc"}]},
    }
    database_put = {
        "database_name": "Warehouse",
        "sqlalchemy_uri": "postgresql+psycopg2://bi_reader:s3cret@db.internal:5432/warehouse",
        "parameters": {"username": "bi_reader", "password": "s3cret", "host": "db.internal"},
        "ssh_tunnel": {"private_key": "-----BEGIN KEY-----", "private_key_password": "s3cret"},
        "masked_encrypted_extra": json.dumps({"credentials_info": {"key": "s3cret"}}),
        "extra": json.dumps({"engine_params": {"connect_args": {"sslmode": "require"}}}),
    }
    masked_event, masked_put = redact([event, database_put])
    assert "s3cret" not in json.dumps([masked_event, masked_put])
    assert masked_event == {**event, "passwords": "XXXXXXXXXX"}
    assert masked_put["sqlalchemy_uri"] == "postgresql+psycopg2://bi_reader:XXXXXXXXXX@db.internal:5432/warehouse"
    assert masked_put["parameters"] == {"username": "bi_reader", "password": "XXXXXXXXXX", "host": "db.internal"}
    assert masked_put["extra"] == database_put["extra"]


def test_a_secret_key_rotation_reads_the_previous_key_from_the_environment():
    code = SUPERSET_EVENT_LOGGER_STANDIN + (
        f"import runpy; config = runpy.run_path({str(CONFIG)!r}); print(config['PREVIOUS_SECRET_KEY'])"
    )
    for env, expected in (({"SUPERSET_PREVIOUS_SECRET_KEY": "the-old-key"}, "the-old-key"), ({}, "None")):
        result = subprocess.run(
            [sys.executable, "-c", code], env={**BASE_ENV, "SUPERSET_ENV": "local", **env}, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
