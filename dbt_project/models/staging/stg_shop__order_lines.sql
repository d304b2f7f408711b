with source as (
    select * from {{ source('shop', 'order_lines') }}
)

select
    file_id::text || '-' || source_line::text as order_line_id,
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
