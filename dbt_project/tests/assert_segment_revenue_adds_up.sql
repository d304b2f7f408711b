{#- The segment marts add up, to the cent: segment_summary's net revenue plus that of guest orders and
    of customers without a sale (dim_customers.orders = 0) equals kpi_daily's; customer_value_by_score
    holds the customers and lifetime net revenue of customer_segments. Returns one row per disagreement. -#}
with checks as (
    select
        'segment_summary net_revenue' as check_name,
        (select coalesce(sum(net_revenue), 0) from {{ ref('segment_summary') }}) as actual,
        (select coalesce(sum(net_revenue), 0) from {{ ref('kpi_daily') }})
        - (
            select coalesce(sum(net_revenue), 0) from {{ ref('fct_orders') }}
            where customer_id is null
        )
        - (
            select coalesce(sum(lifetime_net_revenue), 0) from {{ ref('dim_customers') }}
            where orders = 0)
            as expected
    union all
    select
        'customer_value_by_score customers',
        (select coalesce(sum(customers), 0) from {{ ref('customer_value_by_score') }}),
        (select count(*) from {{ ref('customer_segments') }})
    union all
    select
        'customer_value_by_score lifetime_net_revenue',
        (select coalesce(sum(lifetime_net_revenue), 0) from {{ ref('customer_value_by_score') }}),
        (select coalesce(sum(monetary), 0) from {{ ref('customer_segments') }})
)

select check_name, actual, expected
from checks
where actual <> expected
