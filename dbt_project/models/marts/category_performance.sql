{#- Lifetime sales per product category (the category on each line, as sold), added up from the daily
    mart so that it costs little on every run. -#}
with daily as (
    select * from {{ ref('sales_daily_by_category_country') }}
),

products as (
    select category, count(distinct product_id) as products
    from {{ ref('int_sales__daily_by_product') }}
    group by category
),

per_category as (
    select
        category,
        sum(orders) as orders,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned,
        sum(gross_revenue) as gross_revenue,
        sum(returns_amount) as returns_amount,
        sum(net_revenue) as net_revenue
    from daily
    group by category
)

select
    per_category.category,
    coalesce(products.products, 0) as products,
    per_category.orders,
    per_category.units_sold,
    per_category.units_returned,
    per_category.gross_revenue,
    per_category.returns_amount,
    per_category.net_revenue,
    {{ metric_avg_order_value('per_category.gross_revenue', 'per_category.orders') }} as avg_order_value,
    {{ metric_return_rate('per_category.units_returned', 'per_category.units_sold') }} as return_rate,
    case when sum(per_category.net_revenue) over () <> 0
        then round(per_category.net_revenue / sum(per_category.net_revenue) over (), 4) end as revenue_share,
    rank() over (order by per_category.net_revenue desc) as revenue_rank
from per_category
left join products on per_category.category = products.category
