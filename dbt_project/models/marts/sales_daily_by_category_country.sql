{#- Revenue per day, product category and country, so that dashboards can filter revenue over time by
    category and country. Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        on_schema_change='fail',
        indexes=[{'columns': ['order_date']}],
        post_hook="{{ delete_placeholder_rows('category') }}",
    )
}}

{{ daily_sales_by(['category', 'country_code']) }}
