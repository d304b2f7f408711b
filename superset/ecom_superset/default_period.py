"""The dashboards' default period: the days their Order date filter shows when a dashboard opens.

Superset's own relative ranges ("previous calendar month") follow the Superset server's clock and
know nothing of the data, so a shop with a few weeks of orders would open on empty key figures.
The publication (orchestration/superset_assets.py) chooses the period here instead, from today's
date in the reporting time zone and the shop's order days, and publishes it as an explicit range; every
pipeline run (the daily schedule included) chooses it again. The rules, edge cases included:

1. The last complete calendar month, when the shop's first order day is on or before its first day
   (the data covers the whole month). A shop whose orders stopped before that month still gets it:
   the dashboards show the calendar, not the data.
2. Otherwise month to date, from the first day of the current month to today included, when the
   current month has an order up to today, or when the shop has no order at all yet (its first
   orders will land in the current month).
3. Otherwise (a shop whose few weeks of data all lie in the month before), the shop's data so far:
   from its first order day to today included.

Only order days up to today count: an order dated after today in the reporting time zone (a clock or
time zone error upstream) is not "data so far".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DefaultPeriod:
    """Days from `start` up to, not including, `end`; `label` names it for people, `reason` says why it was chosen."""

    start: date
    end: date
    label: str
    reason: str

    @property
    def time_range(self) -> str:
        # Superset's explicit range syntax; its end is exclusive.
        return f"{self.start.isoformat()} : {self.end.isoformat()}"


def reporting_today(now: datetime, time_zone: str) -> date:
    """The calendar day `now` (an aware datetime) falls on in the reporting time zone."""
    if now.tzinfo is None:
        raise ValueError("reporting_today needs an aware datetime: a naive one has no time zone to convert from")
    return now.astimezone(ZoneInfo(time_zone)).date()


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def default_period(today: date, first_order_day: date | None, latest_order_day: date | None) -> DefaultPeriod:
    """The default period (module docstring) for `today` and the shop's first and latest order days
    on or before today (None, None: no order yet)."""
    if (first_order_day is None) != (latest_order_day is None):
        raise ValueError("the first and the latest order day are both known or both unknown")
    if latest_order_day is not None and (latest_order_day > today or first_order_day > latest_order_day):
        raise ValueError(f"order days {first_order_day}..{latest_order_day} are not in order up to today ({today})")
    month_start = today.replace(day=1)
    tomorrow = today + timedelta(days=1)
    last_month_start = (month_start - timedelta(days=1)).replace(day=1)
    if first_order_day is not None and first_order_day <= last_month_start:
        return DefaultPeriod(
            last_month_start,
            month_start,
            f"Last complete month ({last_month_start:%B %Y})",
            f"the orders start on {first_order_day}, on or before {last_month_start}: the data covers the last complete month",
        )
    if latest_order_day is None:
        return DefaultPeriod(
            month_start, tomorrow, f"Month to date ({month_start:%B %Y})", "no order yet: the first ones will be in this month"
        )
    if latest_order_day >= month_start:
        return DefaultPeriod(
            month_start,
            tomorrow,
            f"Month to date ({month_start:%B %Y})",
            f"the orders start on {first_order_day}, after {last_month_start}: less than a month of data",
        )
    return DefaultPeriod(
        first_order_day,
        tomorrow,
        f"Since the first order ({_long_date(first_order_day)})",
        f"the orders start on {first_order_day}, after {last_month_start}, and none is dated in {month_start:%B %Y} yet:"
        " the shop's data so far",
    )
