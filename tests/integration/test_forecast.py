"""The pipeline's forecast stage on the shared stack: every series forecast 90 days with ordered
intervals, its backtest stored beside it, both readable by the BI role."""

from datetime import timedelta

import psycopg
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def segments(stack) -> set[tuple[str, str]]:
    """The segments the marts have: the shop, each category and each country."""
    with stack.warehouse() as conn:
        categories = conn.execute("select distinct category from marts.sales_orders_daily").fetchall()
        countries = conn.execute("select distinct country_code from marts.sales_orders_daily").fetchall()
    return {("shop", "shop")} | {("category", c) for (c,) in categories} | {("country", c) for (c,) in countries}


def test_every_series_is_forecast_90_days_from_the_last_complete_day(stack, segments):
    assert stack.first_run.returncode == 0, stack.first_run.stdout[-3000:]
    with stack.warehouse() as conn:
        (last_day,) = conn.execute("select max(order_date) from marts.sales_orders_daily").fetchone()
        rows = conn.execute(
            "select segment_kind, segment, metric, count(*), min(forecast_day), max(forecast_day), min(forecast_origin),"
            " max(forecast_origin) from forecast.daily_forecast group by 1, 2, 3"
        ).fetchall()
    assert {(kind, segment, metric) for kind, segment, metric, *_ in rows} == {
        (kind, segment, metric) for kind, segment in segments for metric in ("net_revenue", "orders")
    }
    for *_, days, first, last, origin, latest_origin in rows:
        # The demo data ends in the past: its last day is complete.
        assert origin == latest_origin == last_day
        assert (days, first, last) == (90, last_day + timedelta(days=1), last_day + timedelta(days=90))


def test_intervals_are_ordered_and_orders_not_negative(stack):
    with stack.warehouse() as conn:
        disordered, negative_orders, missing = conn.execute(
            "select count(*) filter (where not (lo95 <= lo80 and lo80 <= point and point <= hi80 and hi80 <= hi95)),"
            " count(*) filter (where metric = 'orders' and lo95 < 0),"
            " count(*) filter (where point is null or lo95 is null or hi95 is null)"
            " from forecast.daily_forecast"
        ).fetchone()
    assert (disordered, negative_orders, missing) == (0, 0, 0)


def test_the_backtest_chose_one_model_per_series_against_seasonal_naive(stack, segments):
    with stack.warehouse() as conn:
        chosen = conn.execute(
            "select segment_kind, segment, metric, count(*) filter (where chosen), count(*) filter (where model = 'SeasonalNaive'),"
            " bool_and(mase is null or mase >= 0), bool_and(coverage95 is null or coverage95 between 0 and 1)"
            " from forecast.model_accuracy group by 1, 2, 3"
        ).fetchall()
        (shop_mase,) = conn.execute(
            "select baseline_mase from forecast.model_accuracy where segment_kind = 'shop' and metric = 'orders' and chosen"
        ).fetchone()
    assert len(chosen) == 2 * len(segments)
    assert all(row[3:] == (1, 1, True, True) for row in chosen), chosen
    # The shop has 90 days: enough for a backtest window, so its seasonal-naive baseline is scored.
    assert shop_mase is not None and shop_mase > 0


def test_the_first_week_is_archived_by_origin(stack, segments):
    with stack.warehouse() as conn:
        (rows,) = conn.execute("select count(*) from forecast.forecast_archive").fetchone()
    assert rows == 2 * len(segments) * 7


def test_the_bi_role_reads_the_forecast(stack):
    with psycopg.connect(stack.settings.bi_reader.url()) as conn:
        (rows,) = conn.execute("select count(*) from forecast.daily_forecast").fetchone()
        (accuracy_rows,) = conn.execute("select count(*) from forecast.model_accuracy").fetchone()
    assert rows > 0 and accuracy_rows > 0
