"""Model choice per series by a rolling-origin backtest, accuracy, and the forecast with intervals.

Candidates: seasonal naive (the week before, the baseline every model must beat), AutoTheta with a
weekly season, and MSTL (weekly and, from two years of history, yearly seasonality; its trend by
ETS without a season). AutoARIMA and a full AutoETS search were measured too slow for the 60-second
budget over every series on two cores (tests/benchmarks/bench_forecast.py), so they are not among
them. A series too short for a backtest gets seasonal naive (from two weeks of history) or naive,
and its accuracy row says so.

MASE is the mean absolute error over the backtest windows divided by the mean absolute weekly
difference of the series before the first window (1.0: as good as seasonal naive in-sample);
coverage is the share of actual days inside an interval.

The models' own intervals assume errors that are normal and independent, and on shop data they came
out too narrow (80-87% of days inside the 95% interval on synthetic weekly series). The backtest
calibrates them: per series and level, the factor by which the chosen model's interval would have
had to be wider to hold that share of the backtest days (never narrower than the model's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, AutoTheta, Naive, SeasonalNaive

BASELINE = "SeasonalNaive"
WEEK = 7
YEAR = 365
# Series whose values cannot be negative: their forecasts and intervals are cut at zero.
NON_NEGATIVE_METRICS = ("orders",)


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = 90
    levels: tuple[int, ...] = (80, 95)
    backtest_horizon: int = 28
    backtest_windows: int = 3
    backtest_step: int = 28
    # Training days before the first backtest window: the models need a few weeks to see the week.
    min_training_days: int = 56

    @property
    def min_backtest_days(self) -> int:
        """One backtest window after the training days; longer series get up to backtest_windows."""
        return self.min_training_days + self.backtest_horizon

    def windows_for(self, history_days: int) -> int:
        room = history_days - self.min_training_days - self.backtest_horizon
        return 0 if room < 0 else min(self.backtest_windows, 1 + room // self.backtest_step)


def candidate_models(history_days: int) -> list:
    seasons = [WEEK, YEAR] if history_days >= 2 * YEAR else [WEEK]
    return [
        SeasonalNaive(season_length=WEEK, alias=BASELINE),
        AutoTheta(season_length=WEEK, alias="AutoTheta"),
        MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL_" + "_".join(map(str, seasons))),
    ]


def short_series_model(history_days: int):
    """For a series too short for a backtest: last week's value once there are two weeks, else the last day's."""
    return SeasonalNaive(season_length=WEEK, alias=BASELINE) if history_days >= 2 * WEEK else Naive(alias="Naive")


def _engine(models: list) -> StatsForecast:
    # A fit that fails (a series of zeros, say) falls back to seasonal naive instead of failing the run.
    return StatsForecast(models=models, freq="D", n_jobs=1, fallback_model=SeasonalNaive(season_length=WEEK))


def weekly_scale(history: pd.DataFrame) -> pd.Series:
    """Per series, the mean absolute difference between a day and the same weekday a week before."""
    ordered = history.sort_values(["unique_id", "ds"])
    differences = ordered.groupby("unique_id", sort=False)["y"].diff(WEEK).abs()
    return differences.groupby(ordered["unique_id"]).mean()


def accuracy(predictions: pd.DataFrame, scale: pd.Series, model_names: list[str], levels: tuple[int, ...]) -> pd.DataFrame:
    """MASE and interval coverage per series and model, from rows of (unique_id, y, <model>,
    <model>-lo-<level>, <model>-hi-<level>) and each series' scale."""
    rows = []
    for unique_id, group in predictions.groupby("unique_id", sort=True):
        series_scale = scale.get(unique_id, np.nan)
        for model in model_names:
            error = (group["y"] - group[model]).abs().mean()
            row = {
                "unique_id": unique_id,
                "model": model,
                "mase": error / series_scale if series_scale > 0 else np.nan,
                "evaluated_days": len(group),
            }
            for level in levels:
                lower, upper = group[f"{model}-lo-{level}"], group[f"{model}-hi-{level}"]
                row[f"coverage{level}"] = ((group["y"] >= lower) & (group["y"] <= upper)).mean()
                row[f"widening{level}"] = _widening(group["y"] - group[model], (upper - lower) / 2, level)
            rows.append(row)
    return pd.DataFrame(rows)


def _widening(errors: pd.Series, half_widths: pd.Series, level: int) -> float:
    """The smallest factor (at least 1) that puts `level`% of the errors inside the half-widths times it."""
    needed = (errors.abs() / half_widths).replace([np.inf, -np.inf], np.nan).dropna()
    if needed.empty:
        return 1.0
    return max(1.0, float(np.quantile(needed, level / 100)))


def mark_choice(scores: pd.DataFrame) -> pd.DataFrame:
    """Add the baseline's MASE to every row and mark each series' model with the lowest MASE; seasonal
    naive wins ties and series without a MASE (no variation to scale by)."""
    scores = scores.copy()
    baseline = scores[scores["model"] == BASELINE].set_index("unique_id")["mase"]
    scores["baseline_mase"] = scores["unique_id"].map(baseline)
    ranked = scores.assign(_rank=scores["mase"].fillna(np.inf), _not_baseline=scores["model"] != BASELINE).sort_values(
        ["unique_id", "_rank", "_not_baseline"]
    )
    winners = ranked.groupby("unique_id").head(1).set_index("unique_id")["model"]
    scores["chosen"] = scores["model"] == scores["unique_id"].map(winners)
    return scores


def _groups_by_history(series: pd.DataFrame) -> dict[int, list[str]]:
    lengths = series.groupby("unique_id").size()
    return {length: ids.index.tolist() for length, ids in lengths.groupby(lengths)}


def backtest(series: pd.DataFrame, config: ForecastConfig) -> pd.DataFrame:
    """Rolling-origin backtest of every candidate on every series long enough, plus a row per short
    series for its fixed model (MASE and coverage empty). Columns: unique_id, model, mase, coverage<level>...,
    evaluated_days, baseline_mase, chosen, note."""
    lengths = series.groupby("unique_id").size()
    plan = pd.DataFrame({"windows": lengths.map(config.windows_for), "uses_year": lengths >= 2 * YEAR})
    results = []
    # Series with the same candidates (the yearly season needs two years) and windows share an engine.
    for (windows, uses_year), ids in plan[plan["windows"] > 0].groupby(["windows", "uses_year"]):
        subset = series[series["unique_id"].isin(ids.index)]
        models = candidate_models(2 * YEAR if uses_year else 0)
        names = [model.alias for model in models]
        predictions = _engine(models).cross_validation(
            df=subset,
            h=config.backtest_horizon,
            n_windows=int(windows),
            step_size=config.backtest_step,
            level=list(config.levels),
            # Fit at the first window's origin, then only feed the later windows' days (forward):
            # a third of the time of a refit per window for the same errors (measured on weekly series).
            refit=False,
        )
        first_cutoff = predictions.groupby("unique_id")["cutoff"].min()
        training = subset[subset["ds"] <= subset["unique_id"].map(first_cutoff)]
        scores = accuracy(predictions, weekly_scale(training), names, config.levels)
        scores["note"] = f"backtest: {windows} window(s) of {config.backtest_horizon} days"
        results.append(mark_choice(scores))
    for unique_id, length in lengths[lengths < config.min_backtest_days].items():
        results.append(
            pd.DataFrame(
                [
                    {
                        "unique_id": unique_id,
                        "model": short_series_model(length).alias,
                        "chosen": True,
                        "note": f"{length} days of history: too short for a backtest ({config.min_backtest_days} needed)",
                    }
                ]
            )
        )
    columns = [
        "unique_id",
        "model",
        "mase",
        *(f"coverage{level}" for level in config.levels),
        *(f"widening{level}" for level in config.levels),
        "evaluated_days",
        "baseline_mase",
        "chosen",
        "note",
    ]
    if not results:
        return pd.DataFrame(columns=columns)
    return pd.concat(results, ignore_index=True).reindex(columns=columns)


def _model_named(name: str, history_days: int):
    for model in [*candidate_models(history_days), short_series_model(history_days)]:
        if model.alias == name:
            return model
    raise ValueError(f"no model named {name}")


def forecast(
    series: pd.DataFrame, choices: pd.Series, horizon: int, levels: tuple[int, ...], widening: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each series' forecast by its chosen model (choices: unique_id -> model name), its intervals
    widened by `widening` (unique_id -> a column widening<level> per level; none: as the model gives
    them). Columns: unique_id, ds, model, point, lo<level>, hi<level>..."""
    lengths = series.groupby("unique_id").size()
    frames = []
    plan = pd.DataFrame({"model": choices, "length": lengths.reindex(choices.index)})
    plan["uses_year"] = plan["length"] >= 2 * YEAR
    for (name, uses_year), rows in plan.groupby(["model", "uses_year"]):
        model = _model_named(name, 2 * YEAR if uses_year else int(rows["length"].min()))
        subset = series[series["unique_id"].isin(rows.index)]
        predicted = _engine([model]).forecast(df=subset, h=horizon, level=list(levels))
        renamed = {name: "point"}
        for level in levels:
            renamed[f"{name}-lo-{level}"] = f"lo{level}"
            renamed[f"{name}-hi-{level}"] = f"hi{level}"
        frames.append(predicted.rename(columns=renamed).assign(model=name))
    columns = ["unique_id", "ds", "model", "point", *(f"{side}{level}" for level in levels for side in ("lo", "hi"))]
    result = pd.concat(frames, ignore_index=True)[columns]
    if widening is not None:
        result = widen_intervals(result, widening, levels)
    return clip_non_negative(result)


def widen_intervals(predictions: pd.DataFrame, widening: pd.DataFrame, levels: tuple[int, ...]) -> pd.DataFrame:
    predictions = predictions.copy()
    half_width = None
    for level in sorted(levels):
        factor = predictions["unique_id"].map(widening[f"widening{level}"]).fillna(1.0)
        widened = (predictions[f"hi{level}"] - predictions[f"lo{level}"]) / 2 * factor
        # A wider level's interval stays at least as wide as a narrower level's.
        half_width = widened if half_width is None else np.maximum(widened, half_width)
        predictions[f"lo{level}"] = predictions["point"] - half_width
        predictions[f"hi{level}"] = predictions["point"] + half_width
    return predictions


def clip_non_negative(predictions: pd.DataFrame) -> pd.DataFrame:
    """Cut forecasts and bounds of series that cannot be negative at zero (keeps their order)."""
    metric = predictions["unique_id"].str.rsplit("|", n=1).str[-1]
    values = [column for column in predictions.columns if column == "point" or column[:2] in ("lo", "hi")]
    mask = metric.isin(NON_NEGATIVE_METRICS)
    predictions = predictions.copy()
    predictions.loc[mask, values] = predictions.loc[mask, values].clip(lower=0)
    return predictions


def choose_and_forecast(series: pd.DataFrame, config: ForecastConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest's accuracy table and the forecasts of each series' chosen model."""
    scores = backtest(series, config)
    chosen = scores[scores["chosen"]].set_index("unique_id")
    return scores, forecast(series, chosen["model"], config.horizon, config.levels, chosen)


def holdout_evaluation(series: pd.DataFrame, holdout_days: int, config: ForecastConfig) -> pd.DataFrame:
    """Hold back each series' final `holdout_days`, choose and forecast on the rest, and score the
    chosen model and seasonal naive on the held-back days: a row per series (unique_id, model,
    chosen_mase, baseline_mase, coverage<level>, baseline_coverage<level>)."""
    last_day = series.groupby("unique_id")["ds"].transform("max")
    training = series[series["ds"] <= last_day - pd.Timedelta(days=holdout_days)]
    held_back = series[series["ds"] > last_day - pd.Timedelta(days=holdout_days)]
    training = training[training["unique_id"].map(training.groupby("unique_id").size()) >= 2 * WEEK]
    scores = backtest(training, config)
    chosen_rows = scores[scores["chosen"]].set_index("unique_id")
    choices = chosen_rows["model"]
    chosen = forecast(training, choices, holdout_days, config.levels, chosen_rows)
    baseline = forecast(training, pd.Series(BASELINE, index=choices.index), holdout_days, config.levels)
    scale = weekly_scale(training)
    rows = []
    for label, predicted in (("chosen", chosen), ("baseline", baseline)):
        joined = held_back.merge(predicted, on=["unique_id", "ds"]).rename(columns={"point": "forecast"})
        for level in config.levels:
            joined = joined.rename(columns={f"lo{level}": f"forecast-lo-{level}", f"hi{level}": f"forecast-hi-{level}"})
        scored = accuracy(joined, scale, ["forecast"], config.levels).set_index("unique_id")
        prefix = "" if label == "chosen" else "baseline_"
        rows.append(scored[["mase", *(f"coverage{level}" for level in config.levels)]].add_prefix(prefix))
    result = pd.concat(rows, axis=1).rename(columns={"mase": "chosen_mase"})
    result["model"] = choices.reindex(result.index)
    return result.reset_index()
