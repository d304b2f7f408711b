{#- Lifetime sales per product with its rank by net revenue and by net units (ties share a rank), and
    its current name and category (dim_products); macros/performance.sql. -#}
{{ performance_by(
    'product_id',
    ref('int_sales__daily_by_product'),
    details='select * from ' ~ ref('dim_products'),
    columns=[
        'details.product_name', 'details.category', 'details.first_order_date', 'details.last_order_date',
        'units_sold', 'units_returned', 'net_units', 'gross_revenue', 'returns_amount', 'net_revenue',
        'return_rate', 'revenue_rank', 'units_rank',
    ],
) }}
