{#- Lifetime sales per country of the order (ISO 3166 alpha-2; ZZ when the export had none), added up
    from the daily sales per country (macros/performance.sql). A registered customer belongs to the
    country of their first order. -#}
{%- set country_details -%}
    -- Every code once: the seed's names, and the customers of codes the seed may not have.
    with customers_per_country as (
        select country_code, count(*) as customers
        from {{ ref('dim_customers') }}
        where first_order_date is not null
        group by country_code
    )

    select
        coalesce(customers_per_country.country_code, countries.country_code) as country_code,
        countries.country_name,
        customers_per_country.customers
    from customers_per_country
    full outer join {{ ref('countries') }} as countries
        on customers_per_country.country_code = countries.country_code
{%- endset -%}

{{ performance_by(
    'country_code',
    ref('int_sales__daily_by_country'),
    details=country_details,
    columns=[
        'coalesce(details.country_name, totals.country_code) as country_name',
        'orders', 'coalesce(details.customers, 0) as customers', 'units_sold', 'units_returned', 'gross_revenue',
        'returns_amount', 'net_revenue', 'avg_order_value', 'return_rate', 'revenue_share', 'revenue_rank',
    ],
) }}
