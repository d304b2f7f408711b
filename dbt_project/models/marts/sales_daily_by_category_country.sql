{#- Revenue per day, product category and country, so that dashboards can filter revenue over time by
    category and country. Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='category', indexes=[{'columns': ['order_date']}]) }}

{{ daily_sales_by(['category', 'country_code']) }}
