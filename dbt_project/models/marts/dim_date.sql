{#- The reporting calendar: every day from the first to the last day with an order line, so that
    marts can show days, weeks and months without orders. -#}
with bounds as (
    select min(order_date) as first_day, max(order_date) as last_day
    from {{ ref('int_order_lines') }}
),

days as (
    select generate_series(first_day, last_day, interval '1 day')::date as date_day
    from bounds
)

select
    date_day,
    date_trunc('week', date_day)::date as week_start,
    date_trunc('month', date_day)::date as month_start,
    date_trunc('quarter', date_day)::date as quarter_start,
    extract(year from date_day)::integer as calendar_year,
    extract(month from date_day)::integer as month_of_year,
    to_char(date_day, 'YYYY-MM') as year_month,
    extract(isoyear from date_day)::integer as iso_year,
    extract(week from date_day)::integer as iso_week,
    extract(isodow from date_day)::integer as day_of_week,
    to_char(date_day, 'FMDay') as day_name,
    extract(isodow from date_day) in (6, 7) as is_weekend
from days
