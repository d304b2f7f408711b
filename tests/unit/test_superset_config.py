"""superset/superset_config.py refuses the shipped secrets outside SUPERSET_ENV=local."""

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
        SUPERSET_ENV="production", SUPERSET_SECRET_KEY="k3y", SUPERSET_ADMIN_PASSWORD="s3cret",
        SUPERSET_CACHE_REDIS_URL="redis://cache:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k3y", "RedisCache"]
