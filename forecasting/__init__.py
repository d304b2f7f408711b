"""The forecasting stage: daily net revenue and orders of the shop, of each category and of each
country, forecast 90 days ahead with 80% and 95% prediction intervals (statsforecast).

It reads the published marts and writes the `forecast` schema; it runs after dbt and never imports
orchestration, expectations or superset. series.py shapes the daily series, models.py chooses a model
per series by a rolling-origin backtest against seasonal naive and forecasts, store.py writes the
tables.
"""
