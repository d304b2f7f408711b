{#-
    The body of an incremental model of daily sales by some dimensions (one row per day and
    combination of the dimensions' values found on the lines), with the shop's metrics. Incremental
    by day: a run recomputes every day with changed lines (int_order_footprints), all its rows. The
    model itself configures config_incremental_by('order_date') with the first dimension as the
    placeholder marker. extra_columns: more aggregate expressions, "expression as name". lines: the
    relation of order lines to aggregate, int_order_lines or a view of it with more columns to group by.
-#}
{% macro daily_sales_by(dimensions, extra_columns=[], lines=none) %}
{%- set dimension_list = dimensions | join(', ') -%}
{{ with_rows_to_recompute('lines', lines or ref('int_order_lines'), by='day') }},

aggregated as (
    select
        order_date,
        {{ dimension_list }},
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        {{ metric_orders() }} as orders,
        {{ metric_customers() }} as customers,
        {{ line_totals() }}
    from lines
    group by order_date, {{ dimension_list }}
)

select * from aggregated
{% if is_incremental() %}
union all
{{ placeholder_rows('changed_days', 'order_date', 'aggregated') }}
{% endif %}
{% endmacro %}
