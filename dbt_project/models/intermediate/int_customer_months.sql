{#- Each registered customer's activity per calendar month (reporting time zone): orders placed and
    net revenue of their lines dated in that month. cohort_retention reads it. Incremental by
    customer: a run recomputes every month of every customer whose lines changed. -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config_incremental_by(
        'customer_id',
        placeholder_marker='activity_month',
        indexes=[{'columns': ['customer_id']}, {'columns': ['last_file_id']}],
    )
}}

{{ with_rows_to_recompute('lines', ref('int_order_lines'), by='customer') }},

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
union all
{{ placeholder_rows('changed_customers', 'customer_id', 'months') }}
{% endif %}
