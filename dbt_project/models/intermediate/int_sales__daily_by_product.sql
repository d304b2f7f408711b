{#- Sales per day and product, with the product's name and category as on the lines: small enough
    (days x products) for dim_products and product_performance to aggregate whole on every run.
    Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='product_id') }}

{{ daily_sales_by(['product_id', 'product_name', 'category'], extra_columns=['max(ordered_at) as last_ordered_at']) }}
