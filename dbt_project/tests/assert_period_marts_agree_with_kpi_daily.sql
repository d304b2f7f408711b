{#- The daily marts of the Products and Customers dashboards tell each day what kpi_daily tells:
    product_sales_daily the same net revenue and units, customer_activity_daily the same registered
    customers and new customers. Returns one row per day that disagrees. -#}
with products as (
    select order_date, sum(net_revenue) as net_revenue, sum(units_sold) as units_sold
    from {{ ref('product_sales_daily') }}
    group by order_date
),

customers as (
    select
        order_date,
        count(*) as customers,
        count(*) filter (where is_first_order_day) as new_customers
    from {{ ref('customer_activity_daily') }}
    group by order_date
)

select
    kpi.order_date,
    kpi.net_revenue,
    products.net_revenue as products_net_revenue,
    kpi.units_sold,
    products.units_sold as products_units_sold,
    kpi.customers,
    customers.customers as activity_customers,
    kpi.new_customers,
    customers.new_customers as activity_new_customers
from {{ ref('kpi_daily') }} as kpi
left join products on kpi.order_date = products.order_date
left join customers on kpi.order_date = customers.order_date
where coalesce(products.net_revenue, 0) <> kpi.net_revenue
    or coalesce(products.units_sold, 0) <> kpi.units_sold
    or coalesce(customers.customers, 0) <> kpi.customers
    or coalesce(customers.new_customers, 0) <> kpi.new_customers
