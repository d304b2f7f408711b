{#- One row per registered customer with their lifetime value. Incremental by customer: a run
    recomputes, from fct_orders, every customer whose lines changed (see int_order_footprints). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['customer_id'], 'unique': true},
            {'columns': ['last_file_id']},
        ],
        post_hook=["{{ delete_placeholder_rows('first_seen_date') }}", 'analyze {{ this }}'],
    )
}}

{% if is_incremental() %}
with changed_customers as (
    {{ changed_customers(ref('int_order_footprints')) }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    -- = any(array(...)): look the changed customers up by index (see fct_order_lines).
    where customer_id = any(array(select changed_customers.customer_id from changed_customers))
),
{% else %}
with orders as (
    select * from {{ ref('fct_orders') }}
    where customer_id is not null
),
{% endif %}

lifetime as (
    select
        customer_id,
        min(order_date) as first_seen_date,
        min(order_date) filter (where has_sale) as first_order_date,
        max(order_date) filter (where has_sale) as last_order_date,
        count(*) filter (where has_sale) as orders,
        sum(gross_revenue) as lifetime_gross_revenue,
        sum(returns_amount) as lifetime_returns_amount,
        sum(net_revenue) as lifetime_net_revenue,
        max(last_file_id) as last_file_id
    from orders
    group by customer_id
),

first_orders as (
    select distinct on (customer_id)
        customer_id,
        country_code,
        sales_channel
    from orders
    where has_sale
    order by customer_id, ordered_at, order_id
)

select
    {% if is_incremental() %}changed_customers.customer_id{% else %}lifetime.customer_id{% endif %},
    first_orders.country_code,
    first_orders.sales_channel as first_order_channel,
    lifetime.first_seen_date,
    lifetime.first_order_date,
    date_trunc('month', lifetime.first_order_date)::date as cohort_month,
    lifetime.last_order_date,
    coalesce(lifetime.orders, 0) as orders,
    lifetime.lifetime_gross_revenue,
    lifetime.lifetime_returns_amount,
    lifetime.lifetime_net_revenue,
    {{ metric_avg_order_value('lifetime.lifetime_gross_revenue', 'lifetime.orders') }} as avg_order_value,
    lifetime.last_file_id
{% if is_incremental() %}
-- A changed customer without any order left still needs a row, so that delete+insert removes the old
-- one; the post-hook deletes these placeholder rows (first_seen_date is null) before the run commits.
from changed_customers
left join lifetime on changed_customers.customer_id = lifetime.customer_id
{% else %}
from lifetime
{% endif %}
left join first_orders on lifetime.customer_id = first_orders.customer_id
