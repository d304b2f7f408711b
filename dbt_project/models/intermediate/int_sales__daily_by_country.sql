{#- Sales per day and country: orders and customers distinct per day and country, which the
    category x country mart cannot give (an order spanning categories is in several of its rows).
    Feeds country_performance. Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        on_schema_change='fail',
        post_hook="{{ delete_placeholder_rows('country_code') }}",
    )
}}

{{ daily_sales_by(['country_code']) }}
