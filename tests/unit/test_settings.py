import re
from datetime import date

import pytest

from ingestion.transform import EARLIEST_ORDER_DATE
from orchestration.settings import PostgresTarget, load_settings


def test_url_round_trip_keeps_special_characters_in_credentials():
    target = PostgresTarget("db.example", 6543, "an@lyst", "p:ss/w@rd", "warehouse")
    assert PostgresTarget.from_url(target.url()) == target


def test_redacted_url_hides_the_password():
    target = PostgresTarget("127.0.0.1", 5432, "ecom", "s3cret", "warehouse")
    assert "s3cret" not in target.redacted_url()
    assert target.redacted_url() == "postgresql://ecom:***@127.0.0.1:5432/warehouse"


def test_external_warehouse_url_disables_the_embedded_server(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://me:pw@pg.internal:5433/shop")
    settings = load_settings()
    assert not settings.embedded_postgres
    assert settings.warehouse == PostgresTarget("pg.internal", 5433, "me", "pw", "shop")
    assert settings.dagster_storage.database == "dagster"


def test_ports_and_home_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ECOM_HOME", str(tmp_path))
    monkeypatch.setenv("ECOM_PG_PORT", "25001")
    monkeypatch.setenv("ECOM_DAGSTER_PORT", "25002")
    monkeypatch.setenv("ECOM_SUPERSET_PORT", "25003")
    settings = load_settings()
    assert settings.embedded_postgres
    assert settings.home == tmp_path
    assert settings.warehouse.port == 25001
    assert settings.dagster_url.endswith(":25002")
    assert settings.superset_url.endswith(":25003")
    assert settings.landing_dir == tmp_path / "landing"
    env = settings.stack_env()
    assert env["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
    assert env["DAGSTER_HOME"] == str(tmp_path / "dagster")


def test_the_earliest_order_date_defaults_to_the_loader_s_and_is_checked(monkeypatch):
    monkeypatch.delenv("ECOM_EARLIEST_ORDER_DATE", raising=False)
    assert load_settings().earliest_order_date == EARLIEST_ORDER_DATE
    monkeypatch.setenv("ECOM_EARLIEST_ORDER_DATE", "2015-07-01")
    assert load_settings().earliest_order_date == date(2015, 7, 1)
    assert load_settings().stack_env()["ECOM_EARLIEST_ORDER_DATE"] == "2015-07-01"
    monkeypatch.setenv("ECOM_EARLIEST_ORDER_DATE", "01.07.2015")
    with pytest.raises(ValueError, match=re.escape("ECOM_EARLIEST_ORDER_DATE is a date such as 2000-01-01, not '01.07.2015'")):
        load_settings()


def test_the_landing_folder_s_stable_time_is_a_number_of_seconds(monkeypatch):
    monkeypatch.delenv("ECOM_LANDING_STABLE_SECONDS", raising=False)
    assert load_settings().landing_stable_seconds == 5
    monkeypatch.setenv("ECOM_LANDING_STABLE_SECONDS", "0.5")
    assert load_settings().stack_env()["ECOM_LANDING_STABLE_SECONDS"] == "0.5"
    for wrong in ("-1", "soon", "inf"):
        monkeypatch.setenv("ECOM_LANDING_STABLE_SECONDS", wrong)
        with pytest.raises(ValueError, match="ECOM_LANDING_STABLE_SECONDS is a number of seconds"):
            load_settings()


def test_the_reporting_currency_is_an_iso_4217_code_and_the_rates_folder_lives_in_the_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ECOM_HOME", str(tmp_path))
    monkeypatch.delenv("ECOM_REPORTING_CURRENCY", raising=False)
    monkeypatch.delenv("ECOM_RATES_DIR", raising=False)
    settings = load_settings()
    assert (settings.reporting_currency, settings.rates_dir) == ("EUR", tmp_path.resolve() / "rates")
    assert settings.stack_env()["ECOM_REPORTING_CURRENCY"] == "EUR"
    monkeypatch.setenv("ECOM_REPORTING_CURRENCY", "gbp")
    assert load_settings().reporting_currency == "GBP"
    monkeypatch.setenv("ECOM_REPORTING_CURRENCY", "GBX")
    with pytest.raises(ValueError, match="ECOM_REPORTING_CURRENCY is an ISO 4217 currency code such as EUR or GBP, not 'GBX'"):
        load_settings()
