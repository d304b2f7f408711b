with source as (
    select * from {{ source('shop', 'exchange_rates') }}
)

select
    rate_date,
    currency_code,
    units_per_eur
from source
