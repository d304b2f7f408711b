{#-
    Helpers for the incremental models. Every incremental model stores the ingested file
    (ops.ingested_files.file_id) behind each of its rows (file_id in fct_order_lines, changed_file_id
    in int_order_footprints, last_file_id elsewhere), so it knows how far it has read: its high-water
    mark is the largest one. File ids, not loaded_at, because the loader allocates file ids while
    holding its lock, so they grow in commit order, while loaded_at is the start of a transaction that
    may commit after a later one.
-#}

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


{#- Rows an incremental run writes only so that delete+insert removes stale rows of a key (a day or a
    customer that no longer has any line); they are deleted again before the transaction commits. -#}
{% macro delete_placeholder_rows(column) -%}
    {% if is_incremental() -%}
        delete from {{ this }} where {{ column }} is null
    {%- else -%}
        select 1
    {%- endif %}
{%- endmacro %}


{#- The footprints (see int_order_footprints) of the lines that changed since this model's high-water
    mark: the days to recompute. -#}
{% macro changed_footprints(footprints_relation) -%}
    select order_id, order_date, customer_id
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
