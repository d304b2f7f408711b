{#-
    Helpers for the incremental models. Every incremental model stores the ingested file
    (ops.ingested_files.file_id) behind each of its rows (file_id in int_order_lines, changed_file_id
    in int_order_footprints, last_file_id elsewhere), so it knows how far it has read: its high-water
    mark is the largest one. File ids, not loaded_at, because the loader allocates file ids while
    holding its lock, so they grow in commit order, while loaded_at is the start of a transaction that
    may commit after a later one.

    Lookups of the changed keys are written "key = any(array(subquery))": the changed keys are
    collected first, then looked up by index; with "in (subquery)" the planner guesses their number
    and may scan every line instead.
-#}

{#- The configuration every incremental model shares: delete+insert on its key (a run replaces every
    row of each key it recomputes), failing on a change of columns (that needs --full-refresh), and
    fresh planner statistics before the next model reads it. placeholder_marker: the column that is
    null only on placeholder rows (see placeholder_rows), deleted again before the run commits. -#}
{% macro config_incremental_by(unique_key, placeholder_marker=none, indexes=[], pre_hook=[]) -%}
    {%- set post_hook = [] -%}
    {%- if placeholder_marker is not none -%}
        {%- do post_hook.append("{{ delete_placeholder_rows('" ~ placeholder_marker ~ "') }}") -%}
    {%- endif -%}
    {%- do post_hook.append('analyze {{ this }}') -%}
    {{- config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='fail',
        indexes=indexes,
        pre_hook=pre_hook,
        post_hook=post_hook,
    ) -}}
{%- endmacro %}


{#- Returned as a literal, read before the model's query runs: with a constant the planner sees how few
    rows lie above the mark and uses the indexes, where a subquery would make it expect a third of
    the table. -#}
{% macro high_water_mark(column='last_file_id') -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}select coalesce(max({{ column }}), 0) from {{ this }}{%- endset -%}
        {{- return(run_query(query).columns[0].values()[0] | int) -}}
    {%- else -%}
        {{- return(0) -}}
    {%- endif -%}
{%- endmacro %}


{#- The orders with a line from a file newer than this model's high-water mark (in mark_column). A run
    recomputes them whole: the loader replaces a re-sent order's lines, so its old rows must go. -#}
{% macro changed_orders(lines_relation, mark_column='last_file_id') -%}
    select distinct changed.order_id
    from {{ lines_relation }} as changed
    where changed.file_id > {{ high_water_mark(mark_column) }}
{%- endmacro %}


{#- The reporting days with lines that changed since this model's high-water mark, current or gone
    (see int_order_footprints): the days to recompute. -#}
{% macro changed_days(footprints_relation) -%}
    select distinct order_date
    from {{ footprints_relation }}
    where changed_file_id > {{ high_water_mark() }}
{%- endmacro %}


{#- The registered customers to recompute: everyone on any line, current or gone, of an order that
    changed since this model's high-water mark. The whole order, not only its changed lines, because
    an order's measures are credited to its customer (fct_orders). -#}
{% macro changed_customers(footprints_relation) -%}
    select distinct customer_id
    from {{ footprints_relation }}
    where customer_id is not null
        and order_id = any(array(
            select order_id from {{ footprints_relation }} where changed_file_id > {{ high_water_mark() }}
        ))
{%- endmacro %}


{#- The later sale days of every registered customer on a line that changed since this model's
    high-water mark (current or gone): a model that stores each customer's previous day with an order
    recomputes those days too, since that previous day may have moved. A daily run, with today's
    lines only, adds no day. -#}
{% macro later_days_of_changed_customers(lines_relation, footprints_relation) -%}
    select distinct later.order_date
    from {{ lines_relation }} as later
    inner join (
        select
            customer_id,
            min(order_date) as first_changed_day
        from {{ footprints_relation }}
        where changed_file_id > {{ high_water_mark() }} and customer_id is not null
        group by customer_id
    ) as changed on later.customer_id = changed.customer_id
    where later.is_sale and later.order_date > changed.first_changed_day
{%- endmacro %}


{#- The opening CTEs of a model incremental by customer or by day: `changed_customers` or
    `changed_days`, the keys to recompute (see the macros of those names), and `<cte>`, the rows of
    `relation` with those keys; in a full build every row (every registered customer's). With
    later_days_of_customers (by day), also the later days of the changed lines' customers. The model
    declares `-- depends_on: {{ ref('int_order_footprints') }}`, read only by incremental runs. -#}
{% macro with_rows_to_recompute(cte, relation, by, later_days_of_customers=false) -%}
    {%- set key = {'customer': 'customer_id', 'day': 'order_date'}[by] -%}
    {%- set changed = 'changed_' ~ by ~ 's' -%}
with
{%- if is_incremental() %}
{{ changed }} as (
    {{ changed_customers(ref('int_order_footprints')) if by == 'customer' else changed_days(ref('int_order_footprints')) }}
    {%- if later_days_of_customers %}
    union
    {{ later_days_of_changed_customers(relation, ref('int_order_footprints')) }}
    {%- endif %}
),
{%- endif %}

{{ cte }} as (
    select * from {{ relation }}
    {%- if is_incremental() %}
    where {{ key }} = any(array(select {{ changed }}.{{ key }} from {{ changed }}))
    {%- elif by == 'customer' %}
    where customer_id is not null
    {%- endif %}
)
{%- endmacro %}


{#- Rows an incremental run writes only so that delete+insert removes the old rows of a key it
    recomputes (a day, a customer, a period) that has no row any more: the key, and null in every
    other column of the model (so the marker column configured in config_incremental_by is null).
    To be added with `union all` below the model's rows; changed_keys and rows name its CTEs. -#}
{% macro placeholder_rows(changed_keys, key_columns, rows) -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    {#- The columns of the existing table, in its order, which the model's rows have too
        (on_schema_change='fail'). Only read when the query runs: is_incremental() needs the table. -#}
    {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
select
    {%- for column in columns %}
    {% if column.name in keys %}{{ changed_keys }}.{{ column.name }}{% else %}null{% endif %}{{ "," if not loop.last }}
    {%- endfor %}
from {{ changed_keys }}
where not exists (
    select 1
    from {{ rows }}
    where {% for key in keys %}{{ rows }}.{{ key }} = {{ changed_keys }}.{{ key }}{{ " and " if not loop.last }}{% endfor %}
)
{%- endmacro %}


{#- Deletes the placeholder rows (see placeholder_rows) before the run commits. -#}
{% macro delete_placeholder_rows(column) -%}
    {% if is_incremental() -%}
        delete from {{ this }} where {{ column }} is null
    {%- else -%}
        select 1
    {%- endif %}
{%- endmacro %}
