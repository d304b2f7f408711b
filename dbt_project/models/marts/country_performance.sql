{#- Lifetime sales per country of the order (ISO 3166 alpha-2; ZZ when the export had none), added up
    from the daily sales per country (macros/performance.sql). A registered customer belongs to the
    country of their first order. -#}
{%- set customers_per_country -%}
    select country_code, count(*) as customers
    from {{ ref('dim_customers') }}
    where first_order_date is not null
    group by country_code
{%- endset -%}

{{ performance_by(
    'country_code',
    ref('int_sales__daily_by_country'),
    details=customers_per_country,
    columns=[
        'orders', 'coalesce(details.customers, 0) as customers', 'units_sold', 'units_returned', 'gross_revenue',
        'returns_amount', 'net_revenue', 'avg_order_value', 'return_rate', 'revenue_share', 'revenue_rank',
    ],
) }}
