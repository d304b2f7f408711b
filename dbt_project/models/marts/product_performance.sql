{#- Lifetime sales per product with its rank by net revenue and by net units (ties share a rank). -#}
with daily as (
    select * from {{ ref('int_sales__daily_by_product') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

per_product as (
    select
        product_id,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned,
        sum(gross_revenue) as gross_revenue,
        sum(returns_amount) as returns_amount,
        sum(net_revenue) as net_revenue
    from daily
    group by product_id
)

select
    products.product_id,
    products.product_name,
    products.category,
    products.first_order_date,
    products.last_order_date,
    per_product.units_sold,
    per_product.units_returned,
    per_product.units_sold - per_product.units_returned as net_units,
    per_product.gross_revenue,
    per_product.returns_amount,
    per_product.net_revenue,
    {{ metric_return_rate('per_product.units_returned', 'per_product.units_sold') }} as return_rate,
    rank() over (order by per_product.net_revenue desc) as revenue_rank,
    rank() over (order by per_product.units_sold - per_product.units_returned desc) as units_rank
from per_product
inner join products on per_product.product_id = products.product_id
