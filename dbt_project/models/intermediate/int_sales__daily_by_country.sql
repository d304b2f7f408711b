{#- Sales per day and country: orders and customers distinct per day and country, which the
    category x country mart cannot give (an order spanning categories is in several of its rows).
    Feeds country_performance. Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='country_code') }}

{{ daily_sales_by(['country_code']) }}
