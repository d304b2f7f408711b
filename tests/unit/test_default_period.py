"""The dashboards' default period (superset/ecom_superset/default_period.py): the last complete month
in the reporting time zone, month to date for a young shop, the data so far when this month has none."""

from datetime import UTC, date, datetime

import pytest

from ecom_superset.default_period import default_period, reporting_today


def test_a_shop_with_data_before_last_month_gets_the_last_complete_month():
    period = default_period(date(2026, 12, 2), date(2025, 1, 1), date(2026, 12, 1))
    assert (period.start, period.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert period.time_range == "2026-11-01 : 2026-12-01"
    assert period.label == "Last complete month (November 2026)"
    assert "2025-01-01" in period.reason


def test_data_starting_on_the_first_day_of_last_month_covers_it():
    period = default_period(date(2026, 12, 15), date(2026, 11, 1), date(2026, 12, 14))
    assert period.time_range == "2026-11-01 : 2026-12-01"


def test_on_the_first_of_january_the_last_complete_month_is_december_of_the_year_before():
    period = default_period(date(2027, 1, 1), date(2026, 3, 4), date(2026, 12, 31))
    assert period.time_range == "2026-12-01 : 2027-01-01"
    assert period.label == "Last complete month (December 2026)"


def test_a_shop_whose_orders_stopped_long_ago_still_gets_the_calendar_month():
    period = default_period(date(2026, 12, 2), date(2025, 1, 1), date(2025, 3, 31))
    assert period.time_range == "2026-11-01 : 2026-12-01"


def test_a_shop_with_less_than_a_month_of_data_gets_month_to_date():
    period = default_period(date(2025, 1, 20), date(2025, 1, 1), date(2025, 1, 20))
    assert period.time_range == "2025-01-01 : 2025-01-21"
    assert period.label == "Month to date (January 2025)"
    # Started in the middle of last month: still less than a whole month covered.
    period = default_period(date(2026, 12, 10), date(2026, 11, 2), date(2026, 12, 9))
    assert period.time_range == "2026-12-01 : 2026-12-11"
    assert "less than a month" in period.reason


def test_month_to_date_on_the_first_day_of_the_month_is_that_day():
    period = default_period(date(2026, 12, 1), date(2026, 11, 20), date(2026, 12, 1))
    assert period.time_range == "2026-12-01 : 2026-12-02"


def test_a_young_shop_with_no_order_this_month_gets_its_data_so_far():
    period = default_period(date(2026, 12, 3), date(2026, 11, 10), date(2026, 11, 30))
    assert period.time_range == "2026-11-10 : 2026-12-04"
    assert period.label == "Since the first order (10 November 2026)"
    assert "none is dated in December 2026" in period.reason


def test_a_shop_without_orders_gets_month_to_date():
    period = default_period(date(2026, 12, 3), None, None)
    assert period.time_range == "2026-12-01 : 2026-12-04"
    assert "no order yet" in period.reason


@pytest.mark.parametrize(
    ("today", "first_order_day", "expected"),
    [
        # 29 February of a leap year: the month before is January, a whole one.
        (date(2024, 2, 29), date(2023, 6, 1), "2024-01-01 : 2024-02-01"),
        # In March of a leap year, last month has 29 days and the end is 1 March.
        (date(2024, 3, 1), date(2023, 6, 1), "2024-02-01 : 2024-03-01"),
        (date(2025, 3, 1), date(2023, 6, 1), "2025-02-01 : 2025-03-01"),
        # Month to date on 29 February ends after it, on 1 March.
        (date(2024, 2, 29), date(2024, 1, 15), "2024-02-01 : 2024-03-01"),
    ],
)
def test_leap_years(today, first_order_day, expected):
    assert default_period(today, first_order_day, today).time_range == expected


@pytest.mark.parametrize(
    ("now", "time_zone", "today"),
    [
        # 23:30 UTC on 30 November is already 1 December in Auckland (UTC+13) and Berlin (UTC+1) ...
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Pacific/Auckland", date(2026, 12, 1)),
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 12, 1)),
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "UTC", date(2026, 11, 30)),
        # ... and 02:00 UTC on 1 December is still 30 November in New York (UTC-5).
        (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), "America/New_York", date(2026, 11, 30)),
        (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), "UTC", date(2026, 12, 1)),
    ],
)
def test_today_is_the_day_in_the_reporting_time_zone(now, time_zone, today):
    assert reporting_today(now, time_zone) == today


def test_around_midnight_on_the_first_the_month_follows_the_reporting_time_zone():
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    first, latest = date(2025, 1, 1), date(2026, 11, 30)
    # Already December in Berlin: November is complete.
    assert default_period(reporting_today(now, "Europe/Berlin"), first, latest).time_range == "2026-11-01 : 2026-12-01"
    # Still November in UTC: the last complete month is October.
    assert default_period(reporting_today(now, "UTC"), first, latest).time_range == "2026-10-01 : 2026-11-01"
    # Still 30 November in New York at 02:00 UTC on 1 December.
    later = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert default_period(reporting_today(later, "America/New_York"), first, latest).time_range == "2026-10-01 : 2026-11-01"


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="aware"):
        reporting_today(datetime(2026, 12, 1, 0, 30), "UTC")


@pytest.mark.parametrize(
    ("first_order_day", "latest_order_day"),
    [(date(2026, 11, 1), None), (date(2026, 11, 1), date(2026, 12, 5)), (date(2026, 11, 20), date(2026, 11, 10))],
)
def test_order_days_after_today_or_out_of_order_are_refused(first_order_day, latest_order_day):
    with pytest.raises(ValueError):
        default_period(date(2026, 12, 3), first_order_day, latest_order_day)
