{#- Metric definitions (documented in _marts.yml): gross = sale lines, returns = return lines,
    net = gross + returns, orders = orders with a sale line. -#}
with lines as (
    select * from {{ ref('int_order_lines__priced') }}
),

bounds as (
    select min(order_date) as first_day, max(order_date) as last_day from lines
),

calendar as (
    select generate_series(first_day, last_day, interval '1 day')::date as order_date
    from bounds
),

daily as (
    select
        order_date,
        count(distinct order_id) filter (where is_sale) as orders,
        count(distinct order_id) filter (where is_sale and is_guest) as guest_orders,
        count(distinct customer_id) filter (where is_sale) as customers,
        coalesce(sum(quantity) filter (where is_sale), 0) as units_sold,
        coalesce(-sum(quantity) filter (where not is_sale), 0) as units_returned,
        coalesce(sum(line_amount) filter (where is_sale), 0) as gross_revenue,
        coalesce(sum(line_amount) filter (where not is_sale), 0) as returns_amount
    from lines
    group by order_date
)

select
    calendar.order_date,
    coalesce(daily.orders, 0) as orders,
    coalesce(daily.guest_orders, 0) as guest_orders,
    coalesce(daily.customers, 0) as customers,
    coalesce(daily.units_sold, 0) as units_sold,
    coalesce(daily.units_returned, 0) as units_returned,
    coalesce(daily.gross_revenue, 0) as gross_revenue,
    coalesce(daily.returns_amount, 0) as returns_amount,
    coalesce(daily.gross_revenue, 0) + coalesce(daily.returns_amount, 0) as net_revenue,
    case when coalesce(daily.orders, 0) > 0 then round(daily.gross_revenue / daily.orders, 2) end as avg_order_value
from calendar
left join daily using (order_date)
