{#-
    The body of an incremental model of daily sales by some dimensions (one row per day and
    combination of the dimensions' values found on the lines), with the shop's metrics. Incremental
    by day: a run recomputes every day with changed lines (int_order_footprints), all its rows. The
    model itself configures config_incremental_by('order_date') with the first dimension as the
    placeholder marker. extra_columns: more aggregate expressions, "expression as name". lines: the
    relation of order lines to aggregate, int_order_lines or a view of it with more columns to group by.
    previous_customer_day (dimensions with customer_id): two more columns, previous_order_date (the
    customer's previous day with a sale, on rows with a sale line of a registered customer) and
    is_customer_first_row (true on one such row per customer and day); a run then also recomputes the
    later days of the customers whose lines changed.
-#}
{% macro daily_sales_by(dimensions, extra_columns=[], lines=none, previous_customer_day=false) %}
{%- set dimension_list = dimensions | join(', ') -%}
{%- set lines_relation = lines or ref('int_order_lines') -%}
{{ with_rows_to_recompute('lines', lines_relation, by='day', later_days_of_customers=previous_customer_day) }},

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
{%- if previous_customer_day %},

customer_days as (
    -- Every sale day of the customers on the recomputed lines, however old, for their previous day.
    select
        customer_id,
        order_date,
        lag(order_date) over (partition by customer_id order by order_date) as previous_order_date
    from {{ lines_relation }}
    where is_sale and customer_id is not null
    {%- if is_incremental() %}
        and customer_id = any(array(select distinct lines.customer_id from lines where lines.customer_id is not null))
    {%- endif %}
    group by customer_id, order_date
),

with_customer_days as (
    select
        aggregated.*,
        customer_days.previous_order_date,
        coalesce(
            aggregated.customers > 0 and row_number() over (
                partition by aggregated.customer_id, aggregated.order_date, aggregated.customers > 0
                order by {% for dimension in dimensions %}aggregated.{{ dimension }}{{ ', ' if not loop.last }}{% endfor %}
            ) = 1,
            false
        ) as is_customer_first_row
    from aggregated
    left join customer_days
        on
            aggregated.customers > 0
            and aggregated.customer_id = customer_days.customer_id
            and aggregated.order_date = customer_days.order_date
)
{%- endif %}
{%- set rows = 'with_customer_days' if previous_customer_day else 'aggregated' %}

select * from {{ rows }}
{% if is_incremental() %}
union all
{{ placeholder_rows('changed_days', 'order_date', rows) }}
{% endif %}
{% endmacro %}
