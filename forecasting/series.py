"""Daily series to forecast, from the published marts.

A series is a segment and a metric: the shop (`shop`), a product category (`category=Books`) or a
country (`country=DE`), and `net_revenue` (in the reporting currency, as in the marts) or `orders`.
Every series has a value for each day from its first day with a line to the forecast origin, zero on
days without lines: a forecast must learn from quiet days too.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg

METRICS = ("net_revenue", "orders")
SHOP = "shop"

# The daily figures dbt already computed with its metric macros (orders: distinct orders with a sale
# line; net revenue in the reporting currency), at the grain of each kind of segment: the shop's from
# kpi_daily; a category's added up over countries from sales_daily_by_category_country (an order has
# one country, so its orders add up); a country's from int_sales__daily_by_country, which counts an
# order spanning categories once (the published intermediate schema: no mart has that grain).
DAILY_SEGMENTS_SQL = """
select order_date, 'shop' as segment, net_revenue::float8 as net_revenue, orders::float8 as orders
from marts.kpi_daily
where order_date <= %(origin)s
union all
select order_date, 'category=' || category, sum(net_revenue)::float8, sum(orders)::float8
from marts.sales_daily_by_category_country
where order_date <= %(origin)s
group by order_date, category
union all
select order_date, 'country=' || country_code, net_revenue::float8, orders::float8
from intermediate.int_sales__daily_by_country
where order_date <= %(origin)s
"""


def read_daily_segments(conninfo: str, origin: date) -> pd.DataFrame:
    """Per day and segment, the metrics up to the forecast origin (inclusive)."""
    with psycopg.connect(conninfo) as conn:
        cursor = conn.execute(DAILY_SEGMENTS_SQL, {"origin": origin})
        frame = pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def last_complete_day(conninfo: str, today: date) -> date | None:
    """The forecast origin: the shop's last day with lines, but never today, which is not over yet."""
    with psycopg.connect(conninfo) as conn:
        (last,) = conn.execute("select max(order_date) from marts.sales_orders_daily where order_date < %s", (today,)).fetchone()
    return last


def series_id(segment: str, metric: str) -> str:
    return f"{segment}|{metric}"


def split_series_id(unique_id: str) -> tuple[str, str]:
    segment, metric = unique_id.rsplit("|", 1)
    return segment, metric


def daily_series(segments: pd.DataFrame, origin: date) -> pd.DataFrame:
    """statsforecast's long format (unique_id, ds, y), one row per series and day from the series' first
    day to the origin, zero where the segment had no line that day."""
    end = pd.Timestamp(origin)
    frames = []
    for segment, rows in segments.groupby("segment", sort=True):
        days = pd.date_range(rows["order_date"].min(), end, freq="D")
        filled = rows.set_index("order_date")[list(METRICS)].reindex(days, fill_value=0.0)
        for metric in METRICS:
            frames.append(
                pd.DataFrame({"unique_id": series_id(segment, metric), "ds": days, "y": filled[metric].astype(float).to_numpy()})
            )
    if not frames:
        return pd.DataFrame(
            {"unique_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns]"), "y": pd.Series(dtype=float)}
        )
    return pd.concat(frames, ignore_index=True)
