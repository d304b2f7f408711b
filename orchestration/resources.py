"""What the assets, checks and sensors use, as Dagster resources: the warehouse, Superset, the landing
folder, the Great Expectations project and the alert webhook.

definitions.py builds them from the stack's settings (orchestration/settings.py, the one module that
reads the environment) with `resources_for`, so no asset reads the environment itself and a test can
hand an asset another warehouse. Secrets are given as `dg.EnvVar`: Dagster resolves them when a run
or tick starts, and its UI shows the variable's name, never the password. `Settings.stack_env()`
exports them to every process of the stack.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.settings import PostgresTarget, Settings


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse, as the pipeline's role logs in (the same variables dbt's profile reads)."""

    host: str
    port: int
    user: str
    password: str
    database: str
    bi_reader_user: str = Field(description="The BI role that reads the published marts (Superset's login).")

    @property
    def target(self) -> PostgresTarget:
        return PostgresTarget(self.host, self.port, self.user, self.password, self.database)

    def url(self, driver: str = "postgresql") -> str:
        return self.target.url(driver)


class SupersetResource(dg.ConfigurableResource):
    """Superset's REST API, as its admin, and the BI role's login it stores for the warehouse."""

    url: str
    admin_user: str
    admin_password: str
    bi_reader_password: str
    warehouse: WarehouseResource
    reporting_timezone: str = Field(
        description="The dashboards' calendar (ECOM_REPORTING_TIMEZONE): the day that sets their default period."
    )

    @property
    def bi_reader(self) -> PostgresTarget:
        return self.warehouse.target.with_login(self.warehouse.bi_reader_user, self.bi_reader_password)


class LandingResource(dg.ConfigurableResource):
    """The landing folder, the shop's own source mappings and the loader's rules."""

    landing_dir: str
    sources_dir: str
    stable_seconds: float = Field(description="A file changed more recently than this is still being written.")
    ingestion_problems: str = Field(description="`warn` or `fail`: how the ingestion check fails (ECOM_INGESTION_PROBLEMS).")
    earliest_order_date: str = Field(description="Order lines dated before this day (ISO) are quarantined.")
    rates_dir: str = Field(description="Newer ECB rate files (eurofxref-hist.zip) beside the packaged history (ECOM_RATES_DIR).")
    reporting_currency: str = Field(description="The marts' currency (ECOM_REPORTING_CURRENCY): its lines need no rate.")
    reporting_timezone: str = Field(description="The time zone that cuts a line's day, whose rate converts it.")

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir)

    @property
    def sources_path(self) -> Path:
        return Path(self.sources_dir)

    @property
    def earliest_order_day(self) -> date:
        return date.fromisoformat(self.earliest_order_date)

    @property
    def rates_path(self) -> Path:
        return Path(self.rates_dir)


class DbtBuildPolicyResource(dg.ConfigurableResource):
    """When the dbt asset rebuilds from scratch by itself (orchestration/dbt_cli.py, rebuild_in_full)."""

    max_incremental_share: float = Field(
        description="dbt rebuilds in full when the lines loaded since its last build exceed this share of those built."
    )


class GreatExpectationsResource(dg.ConfigurableResource):
    """Where the Great Expectations project (its Data Docs) lives."""

    project_dir: str

    @property
    def path(self) -> Path:
        return Path(self.project_dir)


class AlertsResource(dg.ConfigurableResource):
    """Where a failed run is announced: a webhook (optional) and the run's page in the Dagster UI."""

    webhook_url: str = Field(description="Empty: failed runs are only recorded in ops.alerts.")
    dagster_url: str


def resources_for(settings: Settings, *, secrets_from_environment: bool = True) -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, keyed by the parameter names the assets, checks and sensors
    use. Without `secrets_from_environment` they hold the settings' secrets themselves: for a test or a
    script that calls an asset's helpers outside Dagster."""

    def secret(variable: str, value: str) -> str | dg.EnvVar:
        return dg.EnvVar(variable) if secrets_from_environment else value

    warehouse = WarehouseResource(
        host=settings.warehouse.host,
        port=settings.warehouse.port,
        user=settings.warehouse.user,
        password=secret("ECOM_PG_PASSWORD", settings.warehouse.password),
        database=settings.warehouse.database,
        bi_reader_user=settings.bi_reader_user,
    )
    return {
        "warehouse": warehouse,
        "superset": SupersetResource(
            url=settings.superset_url,
            admin_user=settings.superset_admin_user,
            admin_password=secret("SUPERSET_ADMIN_PASSWORD", settings.superset_admin_password),
            bi_reader_password=secret("BI_READER_PASSWORD", settings.bi_reader_password),
            warehouse=warehouse,
            reporting_timezone=settings.reporting_timezone,
        ),
        "landing": LandingResource(
            landing_dir=str(settings.landing_dir),
            sources_dir=str(settings.sources_dir),
            stable_seconds=settings.landing_stable_seconds,
            ingestion_problems=settings.ingestion_problems,
            earliest_order_date=settings.earliest_order_date.isoformat(),
            rates_dir=str(settings.rates_dir),
            reporting_currency=settings.reporting_currency,
            reporting_timezone=settings.reporting_timezone,
        ),
        "dbt_build_policy": DbtBuildPolicyResource(max_incremental_share=settings.dbt_max_incremental_share),
        "great_expectations": GreatExpectationsResource(project_dir=str(settings.gx_dir)),
        # A webhook URL often carries its token.
        "alerts": AlertsResource(
            webhook_url=secret("ALERT_WEBHOOK_URL", settings.alert_webhook_url), dagster_url=settings.dagster_url
        ),
    }
