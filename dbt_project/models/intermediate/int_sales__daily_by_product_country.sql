{#- Sales per day, product, category (as on the lines) and country: the daily grain behind
    product_sales_daily, kept incremental here so that the mart only adds names on every run.
    Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='product_id') }}

{{ daily_sales_by(['product_id', 'category', 'country_code']) }}
