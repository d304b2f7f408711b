"""The forecasting stage's asset: after the marts are published, forecast every segment's daily net
revenue and orders (forecasting/) into the forecast schema, with the backtest's accuracy as metadata."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from orchestration.metadata import markdown_table
from orchestration.publication import PUBLISHED_MARTS
from orchestration.resources import LandingResource, WarehouseResource

DAILY_FORECAST = dg.AssetKey(["forecast", "daily_forecast"])
MODEL_ACCURACY = dg.AssetKey(["forecast", "model_accuracy"])
FORECAST_ARCHIVE = dg.AssetKey(["forecast", "forecast_archive"])


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    return round(float(values.mean()), 3) if not values.empty else None


def forecast_metadata(run) -> dict:
    """The numbers to judge a run by in the UI: how many series, which models won, and whether they beat
    seasonal naive in the backtest (MASE, mean over series) with intervals that hold."""
    from forecasting.models import BASELINE
    from forecasting.series import split_series_id

    if run.origin is None:
        return {"series": 0, "note": "no complete day in marts.sales_orders_daily yet: nothing forecast"}
    chosen = run.scores[run.scores["chosen"]]
    baseline = run.scores[run.scores["model"] == BASELINE]
    preview = run.forecasts.sort_values(["unique_id", "ds"]).groupby("unique_id").head(3).head(12)
    return {
        "forecast_origin": run.origin.isoformat(),
        "series": int(run.series["unique_id"].nunique()),
        "forecast_rows": len(run.forecasts),
        "models_chosen": dg.MetadataValue.json({str(k): int(v) for k, v in chosen["model"].value_counts().items()}),
        "mase_chosen": _mean(chosen["mase"]),
        "mase_seasonal_naive": _mean(baseline["mase"]),
        "backtest_coverage80": _mean(chosen["coverage80"]),
        "backtest_coverage95": _mean(chosen["coverage95"]),
        "series_too_short_for_backtest": int(chosen["mase"].isna().sum()),
        "duration_seconds": round(run.seconds, 1),
        "accuracy": markdown_table(
            ["segment", "metric", "model", "MASE", "seasonal naive MASE", "coverage 80%", "coverage 95%"],
            [
                [
                    *split_series_id(row.unique_id),
                    row.model,
                    _round(row.mase),
                    _round(row.baseline_mase),
                    _round(row.coverage80),
                    _round(row.coverage95),
                ]
                for row in chosen.sort_values("unique_id").itertuples()
            ],
        ),
        "preview": markdown_table(
            ["segment", "metric", "day", "model", "point", "95% interval"],
            [
                [
                    *split_series_id(row.unique_id),
                    row.ds.date().isoformat(),
                    row.model,
                    _round(row.point),
                    f"{_round(row.lo95)} .. {_round(row.hi95)}",
                ]
                for row in preview.itertuples()
            ],
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 3)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DAILY_FORECAST,
            deps=[PUBLISHED_MARTS],
            owners=["team:analytics"],
            kinds={"python", "postgres"},
            description="90-day forecast of daily net revenue and orders, shop-wide and per category and country,"
            " with 80% and 95% intervals (forecasting/).",
        ),
        dg.AssetSpec(
            MODEL_ACCURACY,
            deps=[PUBLISHED_MARTS],
            owners=["team:analytics"],
            kinds={"python", "postgres"},
            description="Backtest of every candidate model per series: MASE, interval coverage, seasonal naive's MASE, the choice.",
        ),
        dg.AssetSpec(
            FORECAST_ARCHIVE,
            deps=[PUBLISHED_MARTS],
            owners=["team:analytics"],
            kinds={"python", "postgres"},
            description="The first week of every run's forecast, by origin: the forecast made before a day.",
        ),
    ],
    group_name="forecast",
)
def forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource):
    # statsforecast takes seconds to import: only the run that forecasts pays for it, not every
    # process that loads the code location.
    from forecasting.pipeline import run_forecast

    today = datetime.now(ZoneInfo(landing.reporting_timezone)).date()
    run = run_forecast(warehouse.url(), today, warehouse.bi_reader_user)
    metadata = forecast_metadata(run)
    context.log.info(f"forecast from {run.origin}: {metadata.get('series')} series in {run.seconds:.1f} s")
    yield dg.MaterializeResult(asset_key=DAILY_FORECAST, metadata=metadata)
    yield dg.MaterializeResult(
        asset_key=MODEL_ACCURACY, metadata={key: metadata[key] for key in ("series", "accuracy") if key in metadata}
    )
    yield dg.MaterializeResult(asset_key=FORECAST_ARCHIVE, metadata={"forecast_origin": metadata.get("forecast_origin")})
