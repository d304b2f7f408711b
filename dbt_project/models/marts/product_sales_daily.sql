{#- Sales per day, product, category (as on the lines) and country, with the product's current name
    and the country's name: the Products dashboard adds up the days of the chosen period, filtered by
    category and country, instead of reading the order lines. Rebuilt whole from its incremental
    intermediate (a join, no aggregation); its charts select days, hence the index on order_date. -#}
{{ config(indexes=[{'columns': ['order_date']}]) }}
with product_keys as (
    -- A number per product, for the distinct counts: PostgreSQL counts distinct integers several
    -- times faster than distinct text ids in the warehouse's C.UTF-8 collation.
    select product_id, product_name, row_number() over (order by product_id) as product_key
    from {{ ref('dim_products') }}
)

select
    daily.order_date,
    daily.product_id,
    products.product_key,
    products.product_name,
    daily.category,
    daily.country_code,
    coalesce(countries.country_name, daily.country_code) as country_name,
    daily.orders,
    daily.units_sold,
    daily.units_returned,
    daily.units_sold - daily.units_returned as net_units,
    daily.gross_revenue,
    daily.returns_amount,
    daily.net_revenue
from {{ ref('int_sales__daily_by_product_country') }} as daily
inner join product_keys as products on daily.product_id = products.product_id
left join {{ ref('countries') }} as countries on daily.country_code = countries.country_code
