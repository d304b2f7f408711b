{#- The Sales overview's key figures at a grain every dashboard filter can select: one row per order,
    reporting day, product category, country and sales channel. Orders and customers are counted
    distinct over the selected rows (metrics in _marts.yml), so they stay right under any filter.
    Incremental by day (macros/daily_sales.sql). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='order_id', indexes=[{'columns': ['order_date']}]) }}

{{
    daily_sales_by(
        ['order_id', 'customer_id', 'category', 'country_code', 'country_name', 'sales_channel'],
        extra_columns=['-' ~ metric_returns_amount() ~ ' as refunded_amount'],
        lines=ref('int_order_lines__with_country'),
    )
}}
