{#-
    The body of an incremental model of daily sales by some dimensions (one row per day and
    combination of the dimensions' values found on the lines), with the shop's metrics. Incremental
    by day: a run recomputes every day with changed lines (int_order_footprints), all its rows. The
    model itself configures unique_key='order_date' and post_hook delete_placeholder_rows on the first
    dimension. extra_columns: more aggregate expressions, "expression as name".
-#}
{% macro daily_sales_by(dimensions, extra_columns=[]) %}
{%- set dimension_list = dimensions | join(', ') -%}
{% if is_incremental() %}
with changed_days as (
    select distinct order_date from ({{ changed_footprints(ref('int_order_footprints')) }}) as changed
),

lines as (
    select * from {{ ref('fct_order_lines') }}
    -- = any(array(...)): read the changed days by index (see fct_order_lines).
    where order_date = any(array(select changed_days.order_date from changed_days))
),
{% else %}
with lines as (
    select * from {{ ref('fct_order_lines') }}
),
{% endif %}

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
-- A changed day without any line left still needs a row, so that delete+insert removes its old rows;
-- the post-hook deletes these placeholder rows (first dimension null) before the run commits.
union all
select
    changed_days.order_date
    {%- for column in dimensions + extra_columns %}, null{% endfor -%}
    , null, null, null, null, null, null, null, null
from changed_days
where not exists (select 1 from aggregated where aggregated.order_date = changed_days.order_date)
{% endif %}
{% endmacro %}
