{#- The one place where a line's amount and kind are defined; every fact and mart reads them from here
    (aggregations go through the metric macros in macros/metrics.sql). Predicates on order_id, file_id
    or customer_id are pushed down through this view to raw.order_lines, which the incremental
    int_order_lines relies on. A line takes the exchange rate of its reporting day; the join is a left
    one so that a line without a rate is never dropped: its null amount fails a test instead. -#}
with lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

rates as (
    select * from {{ ref('int_exchange_rates__daily') }}
)

select
    lines.order_line_id,
    lines.order_id,
    lines.ordered_at,
    (lines.ordered_at at time zone '{{ var("reporting_timezone") }}')::date as order_date,
    lines.customer_id,
    lines.customer_id is null as is_guest,
    lines.product_id,
    lines.product_name,
    -- Dashboards filter on these, and a null is no filter value: unknowns get a name of their own.
    coalesce(lines.category, 'Unknown') as category,
    coalesce(lines.country_code, 'ZZ') as country_code,
    lines.sales_channel,
    lines.order_status,
    lines.quantity,
    lines.unit_price,
    lines.currency_code,
    lines.quantity > 0 as is_sale,
    lines.quantity * lines.unit_price as line_amount_local,
    {{ amount_in_reporting_currency(
        'lines.quantity * lines.unit_price', 'lines.currency_code', 'rates.units_per_eur', 'rates.reporting_units_per_eur'
    ) }} as line_amount,
    lines.file_id,
    lines.loaded_at
from lines
left join rates
    on
        (lines.ordered_at at time zone '{{ var("reporting_timezone") }}')::date = rates.rate_date
        and lines.currency_code = rates.currency_code
