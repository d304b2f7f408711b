{#- Customer marts agree with each other: every customer with an order is scored once, the segment
    summary covers them all, each cohort's month 0 retains everyone, cohort sizes add up to the
    customers with an order, and new customers per day add up to the same number. -#}
with customers_with_orders as (
    select count(*) as customers
    from {{ ref('dim_customers') }}
    where orders > 0
),

checks as (
    select 'customer_segments rows' as check_name, (select count(*) from {{ ref('customer_segments') }}) as actual
    union all
    select 'segment_summary customers', (select sum(customers) from {{ ref('segment_summary') }})
    union all
    select
        'cohort sizes', (
            select sum(cohort_size) from {{ ref('cohort_retention') }}
            where months_since_first_order = 0
        )
    union all
    select
        'cohort month 0 active', (
            select sum(active_customers) from {{ ref('cohort_retention') }}
            where months_since_first_order = 0
        )
    union all
    select 'kpi_daily new_customers', (select sum(new_customers) from {{ ref('kpi_daily') }})
    union all
    select 'country_performance customers', (select sum(customers) from {{ ref('country_performance') }})
)

select checks.check_name, checks.actual, customers_with_orders.customers as expected
from checks
cross join customers_with_orders
-- No customers at all (an empty warehouse) leaves the sums null: that agrees too.
where coalesce(checks.actual, 0) <> customers_with_orders.customers
