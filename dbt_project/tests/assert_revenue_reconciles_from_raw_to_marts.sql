{#-
    Revenue reconciles to the cent across the layers: the sum of kpi_daily.net_revenue equals the sum
    of fct_order_lines.line_amount, which equals the amount of the raw loaded lines computed here
    straight from raw.order_lines and the daily ECB rates. The conversion is the rule of
    int_order_lines__priced (macro amount_in_reporting_currency), not a second statement of it: this
    checks every step the lines take after raw (staging, the join to the rates of the line's day, the
    incremental facts, the marts).
    The line counts must match too: a line lost on the way (say, a currency without a rate) would
    otherwise go unnoticed. Returns a row when anything differs.
-#}
with raw_lines as (
    -- Grouped before converting: far fewer distinct amounts than lines, and the same per-line rounding.
    select
        raw_lines.currency,
        (raw_lines.ordered_at at time zone '{{ var("reporting_timezone") }}')::date as order_date,
        raw_lines.quantity * raw_lines.unit_price as amount_local,
        count(*) as lines
    from {{ source('shop', 'order_lines') }} as raw_lines
    group by 1, 2, 3
),

raw_total as (
    select
        -- A line without a rate makes the amount null: the line counts below then tell.
        coalesce(sum({{ amount_in_reporting_currency(
            'raw_lines.amount_local', 'raw_lines.currency', 'rates.units_per_eur', 'rates.reporting_units_per_eur'
        ) }} * raw_lines.lines), 0) as amount,
        coalesce(sum(raw_lines.lines), 0) as lines
    from raw_lines
    left join {{ ref('int_exchange_rates__daily') }} as rates
        on raw_lines.order_date = rates.rate_date and raw_lines.currency = rates.currency_code
),

fact_total as (
    select coalesce(sum(line_amount), 0) as amount, count(*) as lines
    from {{ ref('fct_order_lines') }}
),

kpi_total as (
    select coalesce(sum(net_revenue), 0) as amount from {{ ref('kpi_daily') }}
)

select
    raw_total.amount as raw_amount,
    fact_total.amount as fact_amount,
    kpi_total.amount as kpi_amount,
    raw_total.lines as raw_lines,
    fact_total.lines as fact_lines
from raw_total
cross join fact_total
cross join kpi_total
where raw_total.amount <> fact_total.amount
    or fact_total.amount <> kpi_total.amount
    or raw_total.lines <> fact_total.lines
