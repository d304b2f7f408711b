with source as (
    select * from {{ source('shop', 'order_lines') }}
)

select
    -- A line of an export gives at most one sale and one return (a sold, then refunded line).
    file_id::text || '-' || source_line::text || case when quantity < 0 then '-return' else '' end as order_line_id,
    order_id,
    ordered_at,
    customer_id,
    product_id,
    product_name,
    category,
    quantity,
    unit_price,
    currency as currency_code,
    country as country_code,
    status as order_status,
    channel as sales_channel,
    file_id,
    source_line,
    loaded_at
from source
