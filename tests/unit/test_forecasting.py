"""The forecasting stage's pure functions on synthetic series whose structure is known."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.models import (
    BASELINE,
    ForecastConfig,
    accuracy,
    choose_and_forecast,
    holdout_evaluation,
    mark_choice,
    weekly_scale,
)
from forecasting.pipeline import ForecastRun
from forecasting.series import daily_series

CONFIG = ForecastConfig(horizon=90)


def weekly_series(unique_id: str, days: int, seed: int, level: float = 100.0, noise: float = 4.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weekday_effect = np.array([0, 10, 20, 30, 10, -30, -40], dtype=float)
    y = level + weekday_effect[np.arange(days) % 7] + rng.normal(0, noise, days)
    return pd.DataFrame({"unique_id": unique_id, "ds": pd.date_range("2024-01-01", periods=days, freq="D"), "y": y})


@pytest.fixture(scope="module")
def seasonal_result() -> tuple[pd.DataFrame, pd.DataFrame]:
    series = pd.concat([weekly_series("shop|net_revenue", 240, seed=1), weekly_series("shop|orders", 240, seed=2, level=60)])
    return choose_and_forecast(series, CONFIG)


def test_weekly_seasonality_is_forecast_better_than_seasonal_naive(seasonal_result):
    scores, _ = seasonal_result
    chosen = scores[scores["chosen"]].set_index("unique_id")
    assert set(chosen.index) == {"shop|net_revenue", "shop|orders"}
    # Noise around a fixed weekly pattern: last week's value carries last week's noise, a model of the
    # pattern does not (its error is about 1/sqrt(2) of seasonal naive's).
    assert (chosen["model"] != BASELINE).all()
    assert (chosen["mase"] < 0.9 * chosen["baseline_mase"]).all()
    # The backtest widens intervals that were too narrow, and never narrows one.
    assert (chosen[["widening80", "widening95"]] >= 1).all().all()


def test_forecast_has_every_day_with_ordered_intervals(seasonal_result):
    _, predicted = seasonal_result
    assert predicted.groupby("unique_id").size().to_dict() == {"shop|net_revenue": 90, "shop|orders": 90}
    assert predicted["ds"].min() == pd.Timestamp("2024-01-01") + pd.Timedelta(days=240)
    ordered = (
        (predicted["lo95"] <= predicted["lo80"])
        & (predicted["lo80"] <= predicted["point"])
        & (predicted["point"] <= predicted["hi80"])
        & (predicted["hi80"] <= predicted["hi95"])
    )
    assert ordered.all()
    # The forecast keeps the weekday pattern: Saturdays (weekday 5) are 50 below Thursdays (weekday 3).
    revenue = predicted[predicted["unique_id"] == "shop|net_revenue"].set_index("ds")["point"]
    by_weekday = revenue.groupby(revenue.index.day_of_week).mean()
    assert by_weekday[3] - by_weekday[6] == pytest.approx(70, abs=10)


def test_mase_and_coverage_are_computed_from_the_rows():
    rows = pd.DataFrame(
        {
            "unique_id": ["a"] * 4,
            "y": [10.0, 12.0, 14.0, 30.0],
            "m": [11.0, 12.0, 12.0, 14.0],
            "m-lo-80": [9.0, 11.0, 13.0, 13.0],
            "m-hi-80": [11.0, 13.0, 13.5, 15.0],
            "m-lo-95": [8.0, 10.0, 12.0, 12.0],
            "m-hi-95": [12.0, 14.0, 15.0, 16.0],
        }
    )
    scores = accuracy(rows, pd.Series({"a": 2.0}), ["m"], (80, 95)).iloc[0]
    # Absolute errors 1, 0, 2, 16: mean 4.75, over a scale of 2.
    assert scores["mase"] == pytest.approx(2.375)
    assert scores["coverage80"] == pytest.approx(0.5)
    assert scores["coverage95"] == pytest.approx(0.75)


def test_weekly_scale_is_the_mean_absolute_weekly_difference():
    history = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=9), "y": [1, 2, 3, 4, 5, 6, 7, 4, 2]})
    # Day 8 minus day 1 = 3, day 9 minus day 2 = 0.
    assert weekly_scale(history)["a"] == pytest.approx(1.5)


def test_seasonal_naive_wins_ties_and_series_without_scale():
    scores = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "model": [BASELINE, "AutoTheta", BASELINE, "AutoTheta"],
            "mase": [1.0, 1.0, np.nan, np.nan],
        }
    )
    chosen = mark_choice(scores)
    assert chosen[chosen["chosen"]]["model"].tolist() == [BASELINE, BASELINE]
    assert chosen["baseline_mase"].tolist()[:2] == [1.0, 1.0]


def test_short_series_get_naive_models_and_say_so():
    series = pd.concat([weekly_series("category=New|orders", 20, seed=3), weekly_series("country=LU|orders", 5, seed=4)])
    scores, predicted = choose_and_forecast(series, CONFIG)
    chosen = scores.set_index("unique_id")
    assert chosen.loc["category=New|orders", "model"] == BASELINE
    assert chosen.loc["country=LU|orders", "model"] == "Naive"
    assert chosen["note"].str.contains("too short for a backtest").all()
    assert chosen["mase"].isna().all()
    assert predicted.groupby("unique_id").size().to_dict() == {"category=New|orders": 90, "country=LU|orders": 90}
    # Orders cannot be negative, nor can their interval's lower bound.
    assert (predicted[["point", "lo80", "lo95"]] >= 0).all().all()


def test_days_without_lines_are_zero_and_a_series_of_zeros_forecasts_zero():
    segments = pd.DataFrame(
        {
            "order_date": pd.to_datetime(["2024-03-01", "2024-03-04", "2024-03-02"]),
            "segment": ["shop", "shop", "category=Toys"],
            "net_revenue": [50.0, 70.0, 20.0],
            "orders": [2.0, 3.0, 1.0],
        }
    )
    series = daily_series(segments, date(2024, 3, 5))
    shop = series[series["unique_id"] == "shop|net_revenue"]
    assert shop["y"].tolist() == [50.0, 0.0, 0.0, 70.0, 0.0]
    assert series[series["unique_id"] == "category=Toys|orders"]["y"].tolist() == [1.0, 0.0, 0.0, 0.0]

    zeros = pd.DataFrame({"unique_id": "category=Gone|net_revenue", "ds": pd.date_range("2024-01-01", periods=200), "y": 0.0})
    scores, predicted = choose_and_forecast(zeros, CONFIG)
    assert scores[scores["chosen"]]["model"].tolist() == [BASELINE]
    assert (predicted["point"] == 0).all()


def test_holdout_scores_the_chosen_model_and_the_baseline_on_held_back_days():
    series = weekly_series("shop|net_revenue", 260, seed=5)
    result = holdout_evaluation(series, 56, CONFIG).iloc[0]
    assert result["model"] != BASELINE
    assert result["chosen_mase"] < result["baseline_mase"]
    # Intervals widened by the backtest hold about their share of days they have not seen.
    assert result["coverage95"] >= 0.85
    assert result["coverage80"] >= 0.65
    assert 0 <= result["baseline_coverage80"] <= 1


def test_asset_metadata_sums_up_the_run(seasonal_result):
    from orchestration.forecast_assets import forecast_metadata

    scores, predicted = seasonal_result
    series = pd.concat([weekly_series("shop|net_revenue", 240, seed=1), weekly_series("shop|orders", 240, seed=2, level=60)])
    metadata = forecast_metadata(ForecastRun(date(2024, 8, 27), series, scores, predicted, seconds=1.5))
    assert metadata["series"] == 2 and metadata["forecast_rows"] == 180
    assert sum(metadata["models_chosen"].data.values()) == 2
    assert metadata["mase_chosen"] < metadata["mase_seasonal_naive"]
    assert "| shop | orders |" in metadata["accuracy"].md_str and "| shop | net_revenue |" in metadata["preview"].md_str
    assert forecast_metadata(ForecastRun(None, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), 0.1))["series"] == 0


def test_the_dbt_source_documents_the_columns_the_stage_writes():
    # The Great Expectations check of each forecast table expects exactly the documented columns.
    import yaml

    from forecasting.store import ACCURACY_COLUMNS, FORECAST_COLUMNS

    sources = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts" / "_forecast__sources.yml"
    source = yaml.safe_load(sources.read_text())["sources"][0]
    documented = {table["name"]: [column["name"] for column in table["columns"]] for table in source["tables"]}
    stamps = ["forecast_origin", "made_at"]
    assert documented == {
        "daily_forecast": FORECAST_COLUMNS + stamps,
        "model_accuracy": ACCURACY_COLUMNS + stamps,
        "forecast_archive": FORECAST_COLUMNS + stamps,
    }
