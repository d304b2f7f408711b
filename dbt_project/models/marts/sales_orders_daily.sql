{#- The Sales overview's key figures at a grain every dashboard filter can select: one row per order,
    reporting day, product category, country and sales channel. Orders and customers are counted
    distinct over the selected rows (metrics in _marts.yml), so they stay right under any filter; they
    are counted on integer keys, and an order's sale rows mark one of them (is_order_first_row), which
    the Orders metric adds up instead of counting distinct when no category filter splits the order;
    likewise a customer's first row of a day and previous day with a sale (previous_order_date) let
    the Customers metric add up each customer's first day in the chosen period when no category,
    country or channel filter applies.
    Incremental by day (macros/daily_sales.sql): an order's sale lines are all on its day, so a
    recomputed day holds all of its rows; the later days of a customer whose lines changed are
    recomputed too. -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{ config_incremental_by('order_date', placeholder_marker='order_id', indexes=[{'columns': ['order_date']}]) }}

{{
    daily_sales_by(
        ['order_id', 'customer_id', 'category', 'country_code', 'country_name', 'sales_channel'],
        extra_columns=[
            '-' ~ metric_returns_amount() ~ ' as refunded_amount',
            integer_key('order_id') ~ ' as order_key',
            integer_key('customer_id') ~ ' as customer_key',
            'coalesce(bool_or(is_sale) and row_number() over (partition by order_id, bool_or(is_sale)'
            ~ ' order by category, country_code, sales_channel) = 1, false) as is_order_first_row',
        ],
        lines=ref('int_order_lines__with_country'),
        previous_customer_day=true,
    )
}}
