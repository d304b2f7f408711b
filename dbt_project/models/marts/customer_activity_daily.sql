{#- One row per registered customer and day with an order (a sale line): the Customers dashboard
    counts the distinct customers of the chosen period here, at one row per customer-day instead of
    one per order line. The customer's country (of the first order) and current RFM segment are
    copied onto each row, so that the dashboard's Country and Segment filters apply to these counts
    as to the lifetime charts. previous_order_date lets a count of the customers of a period add up
    their first day in it instead of sorting them (the metric `customers` in _marts.yml). Rebuilt
    whole from fct_orders, so that every row's previous day is current; charts select days, hence
    the index. -#}
{{ config(indexes=[{'columns': ['order_date']}]) }}
with customer_days as (
    select
        customer_id,
        order_date,
        count(*) as orders,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_orders') }}
    where customer_id is not null and has_sale
    group by customer_id, order_date
),

customers as (
    select
        customer_id,
        country_code,
        first_order_date,
        {{ integer_key('customer_id') }} as customer_key
    from {{ ref('dim_customers') }}
)

select
    customer_days.order_date,
    customer_days.customer_id,
    customers.customer_key,
    customers.country_code,
    coalesce(countries.country_name, customers.country_code) as country_name,
    segments.segment,
    customer_days.order_date = customers.first_order_date as is_first_order_day,
    lag(customer_days.order_date) over (
        partition by customer_days.customer_id order by customer_days.order_date
    ) as previous_order_date,
    customer_days.orders,
    customer_days.net_revenue
from customer_days
inner join customers on customer_days.customer_id = customers.customer_id
left join {{ ref('customer_segments') }} as segments on customer_days.customer_id = segments.customer_id
left join {{ ref('countries') }} as countries on customers.country_code = countries.country_code
