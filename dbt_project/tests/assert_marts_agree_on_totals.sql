{#- The marts built from different intermediates tell the same totals: net revenue and units of
    kpi_daily equal those of fct_orders, revenue_trends (each grain), the daily category/country mart
    and the product, category and country marts; orders (counted per day) equal those of the day grain
    of revenue_trends and of country_performance. Returns one row per disagreement. -#}
with kpi as (
    select sum(net_revenue) as net_revenue, sum(units_sold) as units_sold, sum(orders) as orders
    from {{ ref('kpi_daily') }}
),

totals as (
    select
        'fct_orders' as source, sum(net_revenue) as net_revenue, sum(units_sold) as units_sold,
        null::bigint as orders
    from {{ ref('fct_orders') }}
    union all
    -- Distinct orders per week or month are not the sum of the days': only days compare.
    select 'revenue_trends ' || grain, sum(net_revenue), null, case when grain = 'day' then sum(orders) end
    from {{ ref('revenue_trends') }}
    group by grain
    union all
    select 'sales_daily_by_category_country', sum(net_revenue), sum(units_sold), null
    from {{ ref('sales_daily_by_category_country') }}
    union all
    select 'product_performance', sum(net_revenue), sum(units_sold), null
    from {{ ref('product_performance') }}
    union all
    select 'category_performance', sum(net_revenue), sum(units_sold), null
    from {{ ref('category_performance') }}
    union all
    select 'country_performance', sum(net_revenue), sum(units_sold), sum(orders)
    from {{ ref('country_performance') }}
)

select totals.*, kpi.net_revenue as kpi_net_revenue, kpi.units_sold as kpi_units_sold, kpi.orders as kpi_orders
from totals
cross join kpi
where totals.net_revenue <> kpi.net_revenue
    or totals.units_sold <> kpi.units_sold
    or totals.orders <> kpi.orders
