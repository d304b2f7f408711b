{#- Monthly cohorts by first order: of the customers whose first order fell in a month, how many
    ordered again N months later, and what the cohort spent then. Every cohort has a row for each
    month from its first to the last month of data, with zeros when nobody ordered. -#}
with activity as (
    -- One pass over the customer months; every later step works on this small table.
    select
        cohort_month,
        activity_month,
        count(*) filter (where orders > 0) as active_customers,
        sum(orders) as orders,
        sum(net_revenue) as net_revenue
    from {{ ref('int_customer_months') }}
    where cohort_month is not null
        and activity_month >= cohort_month
    group by cohort_month, activity_month
),

cohorts as (
    -- Month 0 is the month of each customer's first order: the whole cohort was active then.
    select cohort_month, active_customers as cohort_size
    from activity
    where activity_month = cohort_month
),

months as (
    select distinct month_start from {{ ref('dim_date') }}
),

grid as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        months.month_start as activity_month,
        (
            extract(year from age(months.month_start, cohorts.cohort_month)) * 12
            + extract(month from age(months.month_start, cohorts.cohort_month)))::integer
            as months_since_first_order
    from cohorts
    inner join months on months.month_start >= cohorts.cohort_month
)

select
    grid.cohort_month,
    -- The heatmap's row label: the cohort and its size, e.g. '2025-01 (312 customers)'.
    to_char(grid.cohort_month, 'YYYY-MM') || ' (' || grid.cohort_size
    || case when grid.cohort_size = 1 then ' customer)' else ' customers)' end as cohort_label,
    grid.months_since_first_order,
    grid.activity_month,
    grid.cohort_size,
    coalesce(activity.active_customers, 0) as active_customers,
    round(coalesce(activity.active_customers, 0)::numeric / grid.cohort_size, 4) as retention_rate,
    coalesce(activity.orders, 0) as orders,
    coalesce(activity.net_revenue, 0) as net_revenue
from grid
left join activity
    on grid.cohort_month = activity.cohort_month
        and grid.activity_month = activity.activity_month
