{#- The shop's daily KPIs. Measures come from int_sales__period_totals (metric macros); days without
    orders appear with zeros. -#}
with calendar as (
    select date_day from {{ ref('dim_date') }}
),

daily as (
    select * from {{ ref('int_sales__period_totals') }}
    where period_grain = 'day'
),

new_customers as (
    select first_order_date, count(*) as new_customers
    from {{ ref('dim_customers') }}
    where first_order_date is not null
    group by first_order_date
)

select
    calendar.date_day as order_date,
    coalesce(daily.orders, 0) as orders,
    coalesce(daily.guest_orders, 0) as guest_orders,
    coalesce(daily.customers, 0) as customers,
    coalesce(daily.units_sold, 0) as units_sold,
    coalesce(daily.units_returned, 0) as units_returned,
    coalesce(daily.gross_revenue, 0) as gross_revenue,
    coalesce(daily.returns_amount, 0) as returns_amount,
    coalesce(daily.net_revenue, 0) as net_revenue,
    {{ metric_avg_order_value('daily.gross_revenue', 'daily.orders') }} as avg_order_value,
    coalesce(new_customers.new_customers, 0) as new_customers,
    coalesce(daily.returned_orders, 0) as returned_orders
from calendar
left join daily on calendar.date_day = daily.period_start
left join new_customers on calendar.date_day = new_customers.first_order_date
