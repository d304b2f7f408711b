"""The whole forecast step: read the published marts, choose and forecast, write the forecast schema."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from forecasting.models import ForecastConfig, choose_and_forecast
from forecasting.series import daily_series, last_complete_day, read_daily_segments
from forecasting.store import write_forecast


@dataclass(frozen=True)
class ForecastRun:
    origin: date | None
    series: pd.DataFrame
    scores: pd.DataFrame
    forecasts: pd.DataFrame
    seconds: float


def run_forecast(conninfo: str, today: date, reader: str | None, config: ForecastConfig = ForecastConfig()) -> ForecastRun:
    """Forecast every series from the last complete day before `today` (in the reporting time zone)
    and replace the forecast tables; with no complete day yet, write nothing."""
    started = time.perf_counter()
    origin = last_complete_day(conninfo, today)
    if origin is None:
        empty = pd.DataFrame()
        return ForecastRun(None, empty, empty, empty, time.perf_counter() - started)
    series = daily_series(read_daily_segments(conninfo, origin), origin)
    scores, forecasts = choose_and_forecast(series, config)
    write_forecast(conninfo, forecasts, scores, origin, datetime.now(UTC), reader)
    return ForecastRun(origin, series, scores, forecasts, time.perf_counter() - started)
