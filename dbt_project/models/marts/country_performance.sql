{#- Lifetime sales per country of the order (ISO 3166 alpha-2; ZZ when the export had none), added up
    from the daily sales per country so that it costs little on every run. -#}
with daily as (
    select * from {{ ref('int_sales__daily_by_country') }}
),

customers as (
    -- A registered customer belongs to the country of their first order.
    select
        country_code,
        count(*) as customers,
        sum(lifetime_net_revenue) as customers_net_revenue
    from {{ ref('dim_customers') }}
    where first_order_date is not null
    group by country_code
),

per_country as (
    select
        country_code,
        sum(orders) as orders,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned,
        sum(gross_revenue) as gross_revenue,
        sum(returns_amount) as returns_amount,
        sum(net_revenue) as net_revenue
    from daily
    group by country_code
)

select
    per_country.country_code,
    per_country.orders,
    coalesce(customers.customers, 0) as customers,
    per_country.units_sold,
    per_country.units_returned,
    per_country.gross_revenue,
    per_country.returns_amount,
    per_country.net_revenue,
    {{ metric_avg_order_value('per_country.gross_revenue', 'per_country.orders') }} as avg_order_value,
    {{ metric_return_rate('per_country.units_returned', 'per_country.units_sold') }} as return_rate,
    case when sum(per_country.net_revenue) over () <> 0
        then round(per_country.net_revenue / sum(per_country.net_revenue) over (), 4) end as revenue_share,
    rank() over (order by per_country.net_revenue desc) as revenue_rank
from per_country
left join customers on per_country.country_code = customers.country_code
