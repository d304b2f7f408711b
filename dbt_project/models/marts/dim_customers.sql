{#- One row per registered customer with their lifetime value. Incremental by customer: a run
    recomputes, from fct_orders, every customer whose lines changed (see int_order_footprints). -#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config_incremental_by(
        'customer_id',
        placeholder_marker='first_seen_date',
        indexes=[
            {'columns': ['customer_id'], 'unique': true},
            {'columns': ['last_file_id']},
        ],
    )
}}

{{ with_rows_to_recompute('orders', ref('fct_orders'), by='customer') }},

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
    lifetime.customer_id,
    first_orders.country_code,
    first_orders.sales_channel as first_order_channel,
    lifetime.first_seen_date,
    lifetime.first_order_date,
    date_trunc('month', lifetime.first_order_date)::date as cohort_month,
    lifetime.last_order_date,
    lifetime.orders,
    lifetime.lifetime_gross_revenue,
    lifetime.lifetime_returns_amount,
    lifetime.lifetime_net_revenue,
    {{ metric_avg_order_value('lifetime.lifetime_gross_revenue', 'lifetime.orders') }} as avg_order_value,
    lifetime.last_file_id
from lifetime
left join first_orders on lifetime.customer_id = first_orders.customer_id
{% if is_incremental() %}
union all
{{ placeholder_rows('changed_customers', 'customer_id', 'lifetime') }}
{% endif %}
