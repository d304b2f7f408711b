{#- Sales per calendar day, product category, country and sales channel, with a row of zeros for every
    day without sales of a combination: a chart over time filtered by any of them shows a day, week or
    month without orders as zero, never as a line drawn across the gap. Days run from the first day
    with a line to today in the reporting time zone; is_current_period marks the days of the week and
    month still under way when the model was built, is_current_month those of the month. Amounts add
    up across rows; orders and customers do not (they are in sales_orders_daily). -#}
with orders as (
    select * from {{ ref('sales_orders_daily') }}
),

daily as (
    select
        order_date,
        category,
        country_code,
        country_name,
        sales_channel,
        sum(units_sold)::bigint as units_sold,
        sum(units_returned)::bigint as units_returned,
        sum(gross_revenue) as gross_revenue,
        sum(returns_amount) as returns_amount,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue
    from orders
    group by order_date, category, country_code, country_name, sales_channel
),

combinations as (
    select distinct category, country_code, country_name, sales_channel
    from daily
),

today as (
    select (now() at time zone '{{ var("reporting_timezone") }}')::date as date_day
),

calendar as (
    select
        generate_series(min(daily.order_date), greatest(max(daily.order_date), today.date_day), interval '1 day')::date
            as date_day
    from daily
    cross join today
    group by today.date_day
),

current_period as (
    -- The earlier of the current week's Monday and month's first day: from there on, a week or
    -- month of the chart is not complete yet.
    select
        least(date_trunc('week', date_day), date_trunc('month', date_day))::date as first_day,
        date_trunc('month', date_day)::date as first_day_of_month
    from today
)

select
    calendar.date_day as order_date,
    combinations.category,
    combinations.country_code,
    combinations.country_name,
    combinations.sales_channel,
    calendar.date_day >= current_period.first_day as is_current_period,
    calendar.date_day >= current_period.first_day_of_month as is_current_month,
    coalesce(daily.units_sold, 0) as units_sold,
    coalesce(daily.units_returned, 0) as units_returned,
    coalesce(daily.gross_revenue, 0) as gross_revenue,
    coalesce(daily.returns_amount, 0) as returns_amount,
    coalesce(daily.refunded_amount, 0) as refunded_amount,
    coalesce(daily.net_revenue, 0) as net_revenue
from calendar
cross join combinations
cross join current_period
left join daily
    on calendar.date_day = daily.order_date
        and combinations.category = daily.category
        and combinations.country_code = daily.country_code
        and combinations.sales_channel is not distinct from daily.sales_channel
