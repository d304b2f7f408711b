{#- One row per product. Name and category are those of the product's most recent line: a shop that
    renames or re-categorises a product shows the current name here, while the facts keep what was
    on each line. -#}
with daily as (
    select * from {{ ref('int_sales__daily_by_product') }}
),

latest as (
    select distinct on (product_id)
        product_id,
        product_name,
        category
    from daily
    order by product_id, last_ordered_at desc, product_name, category
),

lifetime as (
    select
        product_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from daily
    group by product_id
)

select
    latest.product_id,
    latest.product_name,
    latest.category,
    lifetime.first_order_date,
    lifetime.last_order_date
from latest
inner join lifetime on latest.product_id = lifetime.product_id
