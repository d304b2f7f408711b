{#- The one place where line amounts are defined; every fact and mart reads them from here. -#}
select
    lines.order_line_id,
    lines.order_id,
    lines.ordered_at,
    (lines.ordered_at at time zone '{{ var("reporting_timezone") }}')::date as order_date,
    lines.customer_id,
    lines.customer_id is null as is_guest,
    lines.product_id,
    lines.product_name,
    lines.category,
    lines.country_code,
    lines.sales_channel,
    lines.quantity,
    lines.unit_price,
    lines.currency_code,
    lines.quantity > 0 as is_sale,
    lines.quantity * lines.unit_price as line_amount_local,
    round(lines.quantity * lines.unit_price / rates.units_per_eur, 2) as line_amount
from {{ ref('stg_shop__order_lines') }} as lines
join {{ ref('currency_rates') }} as rates using (currency_code)
