{#- Net revenue of each day of kpi_daily equals the sum of fct_order_lines.line_amount on that day, to
    the cent: totals that agree (assert_revenue_reconciles_from_raw_to_marts) can still hide revenue
    put on the wrong day. Returns one row per day that differs. -#}
with line_days as (
    select order_date, sum(line_amount) as line_amount
    from {{ ref('fct_order_lines') }}
    group by order_date
)

select
    coalesce(kpi.order_date, line_days.order_date) as order_date,
    kpi.net_revenue as kpi_daily_net_revenue,
    line_days.line_amount as fct_order_lines_amount
from {{ ref('kpi_daily') }} as kpi
full join line_days on kpi.order_date = line_days.order_date
where coalesce(kpi.net_revenue, 0) <> coalesce(line_days.line_amount, 0)
