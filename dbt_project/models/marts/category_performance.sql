{#- Lifetime sales per product category (the category on each line, as sold), added up from the daily
    mart (macros/performance.sql). -#}
{%- set products_per_category -%}
    select category, count(distinct product_id) as products
    from {{ ref('int_sales__daily_by_product') }}
    group by category
{%- endset -%}

{{ performance_by(
    'category',
    ref('sales_daily_by_category_country'),
    details=products_per_category,
    columns=[
        'coalesce(details.products, 0) as products', 'orders', 'units_sold', 'units_returned', 'gross_revenue',
        'returns_amount', 'net_revenue', 'avg_order_value', 'return_rate', 'revenue_share', 'revenue_rank',
    ],
) }}
