"""Configuration of the local stack and the pipeline: the one module that reads environment variables.

Every value has a working local default so that `make run` needs no setup; `.env.example` documents
them. Stages (ingestion, dbt, expectations, superset) never read this module: orchestration passes
them the values they need (the Dagster assets through the resources of orchestration/resources.py).
Superset's own server configuration (superset/superset_config.py) is read by Superset's process.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pycountry

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SUPERSET_DIR = REPO_ROOT / "superset"

# Local-only defaults. superset_config.py refuses the shipped Superset secrets outside SUPERSET_ENV=local.
LOCAL_PG_PASSWORD = "ecom-local"
LOCAL_BI_READER_PASSWORD = "bi-reader-local"
LOCAL_SUPERSET_ADMIN_USER = "admin"
LOCAL_SUPERSET_ADMIN_PASSWORD = "admin"

WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "quarantine", "ops")


@dataclass(frozen=True)
class PostgresTarget:
    """Where one PostgreSQL database lives and how to log in."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> PostgresTarget:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            database=(parts.path or "/postgres").lstrip("/") or "postgres",
        )

    def url(self, driver: str = "postgresql") -> str:
        credentials = quote(self.user, safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        return f"{driver}://{credentials}@{self.host}:{self.port}/{self.database}"

    def redacted_url(self, driver: str = "postgresql") -> str:
        """The URL with the password masked, for status output and logs."""
        secret = ":***" if self.password else ""
        return f"{driver}://{quote(self.user, safe='')}{secret}@{self.host}:{self.port}/{self.database}"

    def with_database(self, database: str) -> PostgresTarget:
        return PostgresTarget(self.host, self.port, self.user, self.password, database)

    def with_login(self, user: str, password: str) -> PostgresTarget:
        return PostgresTarget(self.host, self.port, user, password, self.database)

    def libpq_env(self) -> dict[str, str]:
        """Variables for libpq-based tools (psql, pg_dump) so no password appears on a command line."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    home: Path
    pg_port: int
    dagster_port: int
    superset_port: int
    warehouse: PostgresTarget
    embedded_postgres: bool
    bi_reader_user: str
    bi_reader_password: str
    # PostgreSQL's statement_timeout of the BI role (e.g. `60s`): Superset's longest query.
    bi_reader_statement_timeout: str
    superset_admin_user: str
    superset_admin_password: str
    superset_secret_key: str
    superset_env: str
    # gunicorn serving Superset: worker processes and threads per worker.
    superset_web_workers: int
    superset_web_threads: int
    reporting_timezone: str
    # ISO 4217 currency every amount of the marts is in; other currencies are converted at the ECB rate
    # of the order's day (ingestion/exchange_rates.py).
    reporting_currency: str
    # A newer ECB rate history (eurofxref-hist.zip or .csv) dropped here extends the one shipped.
    rates_dir: Path
    source_timezone: str
    # dbt rebuilds in full when the new lines exceed this share of those built (orchestration/dbt_cli.py).
    dbt_max_incremental_share: float
    # How the raw asset's ingestion check fails when files were rejected or rows quarantined: warn | fail.
    ingestion_problems: str
    # Order lines dated before this day are quarantined as implausible.
    earliest_order_date: date
    # A landed file changed less than this many seconds ago is still being written: a later run loads it.
    landing_stable_seconds: float
    # A shop's own source mappings (beside the shipped ones in ingestion/sources/).
    sources_dir: Path
    landing_dir: Path
    # Where the embedded PostgreSQL keeps its binaries and data when `ecom` runs as root (see pgdata_dir).
    pg_service_dir: Path
    superset_url: str
    # When the schedule `daily_full_run` runs the whole pipeline (cron, in reporting_timezone).
    daily_cron: str
    # A mart older than this fails its freshness policy (warns at three quarters of it).
    marts_max_age_hours: float
    # Failed runs are posted here as JSON when set (ops.alerts records them either way).
    alert_webhook_url: str
    # `ecom docs` serves the dbt docs on this port of 127.0.0.1.
    dbt_docs_port: int

    @property
    def pgdata_dir(self) -> Path:
        """The embedded PostgreSQL's data directory. PostgreSQL refuses to run as root, so as root it
        runs as a system user, which cannot be expected to reach into ECOM_HOME (private) or its
        parents (e.g. /root): its data then lives in pg_service_dir, in a directory of its own per
        ECOM_HOME."""
        if os.geteuid() != 0:
            return self.home / "pg"
        home_id = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return self.pg_service_dir / "data" / f"{self.home.name}-{home_id}"

    @property
    def gx_dir(self) -> Path:
        """The Great Expectations project: its configuration and Data Docs."""
        return self.home / "gx"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def superset_home(self) -> Path:
        return self.home / "superset"

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{self.dagster_port}"

    @property
    def dagster_storage(self) -> PostgresTarget:
        return self.warehouse.with_database("dagster")

    @property
    def superset_metadata(self) -> PostgresTarget:
        return self.warehouse.with_database("superset")

    @property
    def bi_reader(self) -> PostgresTarget:
        return self.warehouse.with_login(self.bi_reader_user, self.bi_reader_password)

    def stack_env(self) -> dict[str, str]:
        """Environment for every process of the stack (Dagster, dbt, Superset), derived from these settings."""
        return {
            "ECOM_HOME": str(self.home),
            "ECOM_LANDING_DIR": str(self.landing_dir),
            "ECOM_SOURCES_DIR": str(self.sources_dir),
            "ECOM_INGESTION_PROBLEMS": self.ingestion_problems,
            "ECOM_EARLIEST_ORDER_DATE": self.earliest_order_date.isoformat(),
            "ECOM_LANDING_STABLE_SECONDS": f"{self.landing_stable_seconds:g}",
            # The warehouse's port, which is the embedded server's unless WAREHOUSE_URL names another.
            "ECOM_PG_PORT": str(self.warehouse.port),
            "ECOM_DAGSTER_PORT": str(self.dagster_port),
            "ECOM_SUPERSET_PORT": str(self.superset_port),
            "WAREHOUSE_URL": self.warehouse.url(),
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_PG_URL": self.dagster_storage.url("postgresql+psycopg2"),
            # dbt's profiles.yml reads these and ECOM_PG_PORT.
            "ECOM_PG_HOST": self.warehouse.host,
            "ECOM_PG_USER": self.warehouse.user,
            "ECOM_PG_PASSWORD": self.warehouse.password,
            "ECOM_PG_DATABASE": self.warehouse.database,
            "ECOM_REPORTING_TIMEZONE": self.reporting_timezone,
            "ECOM_REPORTING_CURRENCY": self.reporting_currency,
            "ECOM_RATES_DIR": str(self.rates_dir),
            "ECOM_SOURCE_TIMEZONE": self.source_timezone,
            "BI_READER_USER": self.bi_reader_user,
            "BI_READER_PASSWORD": self.bi_reader_password,
            "SUPERSET_URL": self.superset_url,
            "ALERT_WEBHOOK_URL": self.alert_webhook_url,
            "SUPERSET_ADMIN_USER": self.superset_admin_user,
            "SUPERSET_ADMIN_PASSWORD": self.superset_admin_password,
            "SUPERSET_SECRET_KEY": self.superset_secret_key,
            "SUPERSET_ENV": self.superset_env,
            "SUPERSET_METADATA_URL": self.superset_metadata.url("postgresql+psycopg2"),
            "SUPERSET_CONFIG_PATH": str(SUPERSET_DIR / "superset_config.py"),
            "SUPERSET_HOME": str(self.superset_home),
            "FLASK_APP": "superset",
        }


def load_settings() -> Settings:
    home = Path(_env("ECOM_HOME", str(REPO_ROOT / ".local"))).expanduser().resolve()
    pg_port = int(_env("ECOM_PG_PORT", "15432"))
    superset_port = int(_env("ECOM_SUPERSET_PORT", "8088"))
    external_url = os.environ.get("WAREHOUSE_URL", "").strip()
    embedded = not external_url
    if embedded:
        warehouse = PostgresTarget(
            host="127.0.0.1",
            port=pg_port,
            user="ecom",
            password=_env("ECOM_PG_PASSWORD", LOCAL_PG_PASSWORD),
            database="warehouse",
        )
    else:
        warehouse = PostgresTarget.from_url(external_url)
    return Settings(
        home=home,
        pg_port=pg_port,
        dagster_port=int(_env("ECOM_DAGSTER_PORT", "3000")),
        superset_port=superset_port,
        warehouse=warehouse,
        embedded_postgres=embedded,
        bi_reader_user=_env("BI_READER_USER", "bi_reader"),
        bi_reader_password=_env("BI_READER_PASSWORD", LOCAL_BI_READER_PASSWORD),
        bi_reader_statement_timeout=_env("BI_READER_STATEMENT_TIMEOUT", "60s"),
        superset_admin_user=_env("SUPERSET_ADMIN_USER", LOCAL_SUPERSET_ADMIN_USER),
        superset_admin_password=_env("SUPERSET_ADMIN_PASSWORD", LOCAL_SUPERSET_ADMIN_PASSWORD),
        superset_secret_key=_env("SUPERSET_SECRET_KEY", "local-only-superset-secret-key-change-me"),
        superset_env=_env("SUPERSET_ENV", "local"),
        superset_web_workers=int(_env("SUPERSET_WEB_WORKERS", "2")),
        superset_web_threads=int(_env("SUPERSET_WEB_THREADS", "16")),
        reporting_timezone=_env("ECOM_REPORTING_TIMEZONE", "UTC"),
        reporting_currency=_currency_code(_env("ECOM_REPORTING_CURRENCY", "EUR")),
        rates_dir=_folder(_env("ECOM_RATES_DIR", str(home / "rates"))),
        source_timezone=_env("ECOM_SOURCE_TIMEZONE", "UTC"),
        dbt_max_incremental_share=float(_env("ECOM_DBT_MAX_INCREMENTAL_SHARE", "0.2")),
        ingestion_problems=_ingestion_problems(_env("ECOM_INGESTION_PROBLEMS", "warn")),
        earliest_order_date=_earliest_order_date(_env("ECOM_EARLIEST_ORDER_DATE", "2000-01-01")),
        landing_stable_seconds=_stable_seconds(_env("ECOM_LANDING_STABLE_SECONDS", "5")),
        sources_dir=_folder(_env("ECOM_SOURCES_DIR", str(home / "sources"))),
        landing_dir=_folder(_env("ECOM_LANDING_DIR", str(home / "landing"))),
        pg_service_dir=_folder(_env("ECOM_PG_SERVICE_DIR", "/var/lib/ecom-postgres")),
        # In docker compose the pipeline reaches Superset by service name, not on this machine.
        superset_url=_env("SUPERSET_URL", f"http://127.0.0.1:{superset_port}"),
        daily_cron=_env("ECOM_DAILY_CRON", "0 6 * * *"),
        marts_max_age_hours=float(_env("ECOM_MARTS_MAX_AGE_HOURS", "26")),
        alert_webhook_url=_env("ALERT_WEBHOOK_URL", ""),
        dbt_docs_port=int(_env("ECOM_DBT_DOCS_PORT", "8580")),
    )


def _folder(value: str) -> Path:
    return Path(value).expanduser().resolve()


def _currency_code(value: str) -> str:
    code = value.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"ECOM_REPORTING_CURRENCY is an ISO 4217 currency code such as EUR or GBP, not {value!r}")
    return code


def _ingestion_problems(value: str) -> str:
    if value not in ("warn", "fail"):
        raise ValueError(f"ECOM_INGESTION_PROBLEMS is `warn` or `fail`, not {value!r}")
    return value


def _earliest_order_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ECOM_EARLIEST_ORDER_DATE is a date such as 2000-01-01, not {value!r}") from None


def _stable_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"ECOM_LANDING_STABLE_SECONDS is a number of seconds (0 or more), not {value!r}")
    return seconds
