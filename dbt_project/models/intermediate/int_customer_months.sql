{#- Each registered customer's activity per calendar month (reporting time zone): orders placed and
    net revenue of their lines dated in that month. cohort_retention reads it. Incremental by
    customer: a run recomputes every month of every customer whose lines changed. -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['customer_id']},
            {'columns': ['last_file_id']},
        ],
        post_hook=["{{ delete_placeholder_rows('activity_month') }}", 'analyze {{ this }}'],
    )
}}

{% if is_incremental() %}
with changed_customers as (
    {{ changed_customers(ref('int_order_footprints')) }}
),

lines as (
    select * from {{ ref('fct_order_lines') }}
    -- = any(array(...)): look the changed customers up by index (see fct_order_lines).
    where customer_id = any(array(select changed_customers.customer_id from changed_customers))
),
{% else %}
with lines as (
    select * from {{ ref('fct_order_lines') }}
    where customer_id is not null
),
{% endif %}

months as (
    select
        customer_id,
        date_trunc('month', order_date)::date as activity_month,
        {{ metric_orders() }} as orders,
        {{ metric_gross_revenue() }} as gross_revenue,
        {{ metric_returns_amount() }} as returns_amount,
        {{ metric_net_revenue() }} as net_revenue,
        max(file_id) as last_file_id
    from lines
    group by customer_id, date_trunc('month', order_date)
)

select
    customer_id,
    -- The month of the customer's first order (as dim_customers.cohort_month): every month of a
    -- changed customer is recomputed, so it can be kept here and spare cohort_retention a join.
    min(activity_month) filter (where orders > 0) over (partition by customer_id) as cohort_month,
    activity_month,
    orders,
    gross_revenue,
    returns_amount,
    net_revenue,
    last_file_id
from months
{% if is_incremental() %}
-- A changed customer without any line left still needs a row, so that delete+insert removes the old
-- ones; the post-hook deletes these placeholder rows (activity_month is null) before the run commits.
union all
select changed_customers.customer_id, null, null, null, null, null, null, null
from changed_customers
where not exists (select 1 from months where months.customer_id = changed_customers.customer_id)
{% endif %}
