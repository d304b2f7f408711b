{#- The stored order lines with the English name of their country (seed countries), for marts that
    dashboards filter by country name. A view: predicates on order_date reach int_order_lines' index. -#}
with lines as (
    select * from {{ ref('int_order_lines') }}
),

countries as (
    select * from {{ ref('countries') }}
)

select
    lines.order_line_id,
    lines.order_id,
    lines.order_date,
    lines.ordered_at,
    lines.customer_id,
    lines.is_guest,
    lines.product_id,
    lines.product_name,
    lines.category,
    lines.country_code,
    lines.sales_channel,
    lines.order_status,
    lines.is_sale,
    lines.quantity,
    lines.unit_price,
    lines.currency_code,
    lines.line_amount_local,
    lines.line_amount,
    lines.file_id,
    lines.loaded_at,
    coalesce(countries.country_name, lines.country_code) as country_name
from lines
left join countries on lines.country_code = countries.country_code
