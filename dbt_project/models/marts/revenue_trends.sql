{#- Net revenue, orders and customers per day, ISO week and month, each next to the previous period
    of the same grain and the growth against it. Every period from the first to the last day of the
    calendar appears, with zeros when nothing was sold, so "previous" is always the calendar's
    previous period. -#}
with calendar as (
    select date_day, week_start, month_start from {{ ref('dim_date') }}
),

periods as (
    select 'day' as grain, date_day as period_start, date_day as period_end from calendar
    union all
    select distinct 'week', week_start, (week_start + interval '6 days')::date from calendar
    union all
    select distinct 'month', month_start, (month_start + interval '1 month - 1 day')::date from calendar
),

totals as (
    select * from {{ ref('int_sales__period_totals') }}
),

new_customers as (
    select first_order_date, count(*) as new_customers
    from {{ ref('dim_customers') }}
    where first_order_date is not null
    group by first_order_date
),

new_customers_by_period as (
    select periods.grain, periods.period_start, sum(new_customers.new_customers) as new_customers
    from periods
    inner join new_customers
        on new_customers.first_order_date between periods.period_start and periods.period_end
    group by periods.grain, periods.period_start
),

measured as (
    select
        periods.grain,
        periods.period_start,
        periods.period_end,
        -- Weeks and months cut by the first or last day of data are not comparable with full ones.
        periods.period_start >= (select min(calendar.date_day) from calendar)
        and periods.period_end <= (select max(calendar.date_day) from calendar) as is_complete_period,
        coalesce(totals.net_revenue, 0) as net_revenue,
        coalesce(totals.gross_revenue, 0) as gross_revenue,
        coalesce(totals.orders, 0) as orders,
        coalesce(totals.customers, 0) as customers,
        coalesce(new_customers_by_period.new_customers, 0) as new_customers
    from periods
    left join totals
        on periods.grain = totals.period_grain
            and periods.period_start = totals.period_start
    left join new_customers_by_period
        on periods.grain = new_customers_by_period.grain
            and periods.period_start = new_customers_by_period.period_start
),

with_previous as (
    select
        measured.*,
        lag(measured.period_start) over by_grain as previous_period_start,
        lag(measured.net_revenue) over by_grain as previous_net_revenue,
        lag(measured.orders) over by_grain as previous_orders,
        lag(measured.customers) over by_grain as previous_customers
    from measured
    window by_grain as (partition by grain order by period_start)
)

select
    grain,
    period_start,
    period_end,
    is_complete_period,
    net_revenue,
    gross_revenue,
    orders,
    {{ metric_avg_order_value('gross_revenue', 'orders') }} as avg_order_value,
    customers,
    new_customers,
    previous_period_start,
    previous_net_revenue,
    previous_orders,
    previous_customers,
    {{ metric_growth_pct('net_revenue', 'previous_net_revenue') }} as net_revenue_growth_pct,
    {{ metric_growth_pct('orders', 'previous_orders') }} as orders_growth_pct,
    {{ metric_growth_pct('customers', 'previous_customers') }} as customers_growth_pct
from with_previous
