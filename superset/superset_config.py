"""Superset configuration for ecommerce-analytics (loaded through SUPERSET_CONFIG_PATH).

Everything comes from the environment. The shipped local defaults are only accepted when
SUPERSET_ENV=local (what `make run` uses); any other setup must bring its own secrets.
"""

import json
import logging
import os
import re

from superset.utils.log import DBEventLogger

SUPERSET_ENV = os.environ.get("SUPERSET_ENV", "local")
_LOCAL_SECRET_KEY = "local-only-superset-secret-key-change-me"
_LOCAL_ADMIN_PASSWORD = "admin"

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "")
if SUPERSET_ENV != "local":
    if not SECRET_KEY or SECRET_KEY == _LOCAL_SECRET_KEY:
        raise RuntimeError("SUPERSET_SECRET_KEY must be set to a private value outside SUPERSET_ENV=local")
    if os.environ.get("SUPERSET_ADMIN_PASSWORD", _LOCAL_ADMIN_PASSWORD) == _LOCAL_ADMIN_PASSWORD:
        raise RuntimeError("SUPERSET_ADMIN_PASSWORD must be set to a private value outside SUPERSET_ENV=local")
SECRET_KEY = SECRET_KEY or _LOCAL_SECRET_KEY


def _rotate_the_shipped_admin_password(app) -> None:
    """The check above only sees the environment. A stack first set up with SUPERSET_ENV=local keeps
    the shipped admin password in its metadata database: outside local mode it is replaced by
    SUPERSET_ADMIN_PASSWORD (the check above made sure that one is private) at every start."""
    if SUPERSET_ENV == "local":
        return
    from sqlalchemy import inspect
    from superset import db
    from werkzeug.security import check_password_hash

    if not inspect(db.engine).has_table("ab_user"):  # `superset db upgrade` on a new database
        return
    security = app.appbuilder.sm
    for username in {os.environ.get("SUPERSET_ADMIN_USER") or "admin", "admin"}:
        user = security.find_user(username=username)
        if user is not None and user.password and check_password_hash(user.password, _LOCAL_ADMIN_PASSWORD):
            security.reset_password(user.id, os.environ["SUPERSET_ADMIN_PASSWORD"])
            logging.getLogger(__name__).warning(
                "Superset user %s still had the shipped password: replaced by SUPERSET_ADMIN_PASSWORD", username
            )


FLASK_APP_MUTATOR = _rotate_the_shipped_admin_password
# Set only while rotating the secret key: superset/re_encrypt_secrets.py (`superset re-encrypt-secrets`
# once fixed) re-encrypts the stored secrets from this key to SECRET_KEY (README, "Rotating Superset's
# secret key").
PREVIOUS_SECRET_KEY = os.environ.get("SUPERSET_PREVIOUS_SECRET_KEY") or None

SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URL"]
# Each gunicorn worker keeps a pool of metadata connections: after a PostgreSQL restart, every one
# of them is dead. Checked before use, they are replaced instead of failing a request each.
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
# API writes (dashboards as code) need a CSRF token, as the UI does.
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None

# One cache shared by all gunicorn workers: Redis when configured (docker compose), else a
# filesystem cache under SUPERSET_HOME, which every worker on this machine sees.
_REDIS_URL = os.environ.get("SUPERSET_CACHE_REDIS_URL", "")
_CACHE_DIR = os.path.join(os.environ.get("SUPERSET_HOME", os.path.expanduser("~/.superset")), "cache")


def _cache(prefix: str, timeout: int) -> dict:
    if _REDIS_URL:
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_DEFAULT_TIMEOUT": timeout,
            "CACHE_KEY_PREFIX": f"ecom_{prefix}_",
            "CACHE_REDIS_URL": _REDIS_URL,
        }
    return {
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DEFAULT_TIMEOUT": timeout,
        "CACHE_DIR": os.path.join(_CACHE_DIR, prefix),
        "CACHE_THRESHOLD": 20000,
    }


CACHE_CONFIG = _cache("metadata", 24 * 3600)
# Chart results: marts change only when the pipeline publishes; publication warms this cache.
DATA_CACHE_CONFIG = _cache("data", 24 * 3600)
FILTER_STATE_CACHE_CONFIG = _cache("filter_state", 24 * 3600)
EXPLORE_FORM_DATA_CACHE_CONFIG = _cache("explore_form_data", 24 * 3600)

FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,
    "ALERT_REPORTS": False,
    # Registers the "Big Number with Time Period Comparison" chart (pop_kpi): the Sales overview's key
    # figures against the previous period and last year. Without it those cards do not render.
    "CHART_PLUGINS_EXPERIMENTAL": True,
    # Renders the dataset metrics' Jinja: the distinct counts of orders and customers choose, per
    # query, an exact count without DISTINCT when the chart's grouping and filters allow it
    # (ecom_superset/semantic.py, counted_once), which keeps the key figures fast on millions of rows.
    "ENABLE_TEMPLATE_PROCESSING": True,
}

# The marts hold calendar days: a time grain finer than a day would show every day's total at
# midnight, and the week variants starting on Sunday or ending on Saturday would not match the ISO
# weeks of the marts. What is not denied here: P1D, P1W, P1M, P3M, P1Y (day, week, month, quarter, year).
TIME_GRAIN_DENYLIST = [
    "PT1S",
    "PT5S",
    "PT30S",
    "PT1M",
    "PT5M",
    "PT10M",
    "PT15M",
    "PT30M",
    "PT0.5H",
    "PT1H",
    "PT6H",
    "1969-12-28T00:00:00Z/P1W",
    "1969-12-29T00:00:00Z/P1W",
    "P1W/1970-01-03T00:00:00Z",
    "P1W/1970-01-04T00:00:00Z",
    "P0.25Y",
]

ROW_LIMIT = 50000
SQLLAB_CTAS_NO_LIMIT = True
# Served on 127.0.0.1 behind no proxy in the local stack.
TALISMAN_ENABLED = False
WEBSERVER_TIMEOUT = 120


# Superset logs every API request's form fields and JSON body as they came, and serves the `logs`
# table through its API (/api/v1/log/): an asset import's `passwords` field, a database's
# `sqlalchemy_uri` or `parameters.password`, an SSH tunnel's key would all be readable there. Every
# event is stored with such values masked.
SECRET_MASK = "XXXXXXXXXX"  # what Superset's own API shows for a masked password
_SECRET_NAME = re.compile(r"password|secret|token|private_key|credentials|encrypted_extra", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(?P<login>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def redact_secrets(value):
    """`value` (an event's payload) with every secret masked: values under a secret-looking key,
    passwords in connection URIs, also inside JSON sent as a string (form fields)."""
    if isinstance(value, dict):
        return {
            key: SECRET_MASK if _SECRET_NAME.search(str(key)) and item not in (None, "") else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        if value[:1] in ("{", "["):
            try:
                return json.dumps(redact_secrets(json.loads(value)))
            except ValueError:
                pass
        return _URI_PASSWORD.sub(rf"\g<login>{SECRET_MASK}@", value)
    return value


# A chart data request logs six events (the request and its steps: SQL, dataframe, post-processing,
# JSON), each committed to the metadata database: a fifth of the request's time, and a dashboard
# makes one request per chart. They go to the log file instead. Every other event (dashboard and
# chart views, which feed Superset's "Recents", imports, edits) is still kept in the database.
_CHART_DATA_REQUEST = "ChartDataRestApi.data"
_CHART_DATA_STEPS = {
    "ChartDataRestApi.json_dumps",
    "_get_data_response",
    "QueryObject.post_processing",
    "load_into_dataframe",
    "execute_sql",
}
_event_log = logging.getLogger("superset.events")


class SecretMaskingEventLogger(DBEventLogger):
    """Stores every event with its secrets masked; chart data events go to the log file instead."""

    def log(self, user_id, action, dashboard_id, duration_ms, slice_id, referrer, *args, **kwargs):
        if action == _CHART_DATA_REQUEST or action in _CHART_DATA_STEPS:
            level = logging.INFO if action == _CHART_DATA_REQUEST else logging.DEBUG
            for record in kwargs.get("records") or [{}]:
                _event_log.log(level, "%s user=%s %s %s ms", action, user_id, record.get("path"), duration_ms)
            return
        for payload in ("records", "curated_payload"):
            if kwargs.get(payload):
                kwargs[payload] = redact_secrets(kwargs[payload])
        super().log(user_id, action, dashboard_id, duration_ms, slice_id, referrer, *args, **kwargs)


EVENT_LOGGER = SecretMaskingEventLogger()
