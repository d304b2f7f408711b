"""The forecast schema: the latest forecast and its accuracy, replaced in one transaction per run, and an
archive of each run's first week for comparing a day with the forecast made before it.

- forecast.daily_forecast: per segment, metric and day after the origin, the chosen model's forecast
  and its 80% and 95% intervals (the dashboard's history and forecast band joins it to the marts).
- forecast.model_accuracy: per segment, metric and candidate model, the backtest's MASE, interval
  coverage and widening, seasonal naive's MASE, and which model was chosen.
- forecast.forecast_archive: the first ARCHIVED_DAYS days of every run's forecast, by origin: anomaly
  detection reads the interval forecast made before a day (origin < day), which the next run's
  daily_forecast no longer holds.
Amounts are in the reporting currency, as in the marts they come from.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import psycopg
from psycopg import sql

from forecasting.series import split_series_id

SCHEMA = "forecast"
ARCHIVED_DAYS = 7

DDL = """
create schema if not exists forecast;
create table if not exists forecast.daily_forecast (
    segment_kind text not null,
    segment text not null,
    metric text not null,
    forecast_day date not null,
    model text not null,
    point double precision,
    lo80 double precision,
    hi80 double precision,
    lo95 double precision,
    hi95 double precision,
    forecast_origin date not null,
    made_at timestamptz not null,
    primary key (segment_kind, segment, metric, forecast_day)
);
create table if not exists forecast.model_accuracy (
    segment_kind text not null,
    segment text not null,
    metric text not null,
    model text not null,
    mase double precision,
    coverage80 double precision,
    coverage95 double precision,
    widening80 double precision,
    widening95 double precision,
    evaluated_days integer,
    baseline_mase double precision,
    chosen boolean not null,
    note text,
    forecast_origin date not null,
    made_at timestamptz not null,
    primary key (segment_kind, segment, metric, model)
);
create table if not exists forecast.forecast_archive (
    like forecast.daily_forecast,
    primary key (segment_kind, segment, metric, forecast_day, forecast_origin)
);
"""

FORECAST_COLUMNS = ["segment_kind", "segment", "metric", "forecast_day", "model", "point", "lo80", "hi80", "lo95", "hi95"]
ACCURACY_COLUMNS = [
    "segment_kind",
    "segment",
    "metric",
    "model",
    "mase",
    "coverage80",
    "coverage95",
    "widening80",
    "widening95",
    "evaluated_days",
    "baseline_mase",
    "chosen",
    "note",
]


def _with_segment_columns(frame: pd.DataFrame) -> pd.DataFrame:
    parts = frame["unique_id"].map(split_series_id)
    segments = parts.str[0]
    frame = frame.assign(
        metric=parts.str[1],
        segment_kind=segments.str.split("=", n=1).str[0],
        segment=segments.str.split("=", n=1).str[-1],
    )
    return frame


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return [tuple(row) for row in values.itertuples(index=False)]


def write_forecast(
    conninfo: str, forecasts: pd.DataFrame, scores: pd.DataFrame, origin: date, made_at: datetime, reader: str | None
) -> None:
    """Replace the forecast and accuracy tables with this run's, archive its first days, in one
    transaction (readers see the previous run's tables until it commits); the BI role may read them."""
    forecasts = _with_segment_columns(forecasts).assign(forecast_day=lambda frame: frame["ds"].dt.date)
    scores = _with_segment_columns(scores)
    stamp = sql.SQL(", forecast_origin, made_at")
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(DDL)
        for table, frame, columns in (
            ("daily_forecast", forecasts, FORECAST_COLUMNS),
            ("model_accuracy", scores, ACCURACY_COLUMNS),
        ):
            conn.execute(sql.SQL("delete from {}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table)))
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            with conn.cursor().copy(
                sql.SQL("copy {}.{} ({}{}) from stdin").format(sql.Identifier(SCHEMA), sql.Identifier(table), names, stamp)
            ) as copy:
                for row in _rows(frame, columns):
                    copy.write_row((*row, origin, made_at))
        conn.execute("delete from forecast.forecast_archive where forecast_origin = %s", (origin,))
        conn.execute(
            "insert into forecast.forecast_archive select * from forecast.daily_forecast where forecast_day <= %s::date + %s",
            (origin, ARCHIVED_DAYS),
        )
        if reader and conn.execute("select 1 from pg_roles where rolname = %s", (reader,)).fetchone():
            conn.execute(sql.SQL("grant usage on schema forecast to {}").format(sql.Identifier(reader)))
            conn.execute(sql.SQL("grant select on all tables in schema forecast to {}").format(sql.Identifier(reader)))
