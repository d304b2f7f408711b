{#-
    The shop's metric definitions, written once (documented in models/docs.md, block metric_definitions).
    Every model that aggregates order lines calls these macros instead of spelling out the SQL, so a
    metric means the same in every mart. They aggregate rows shaped like int_order_lines__priced:
    quantity, line_amount (in the reporting currency, var reporting_currency, rounded to the cent per
    line), order_id, customer_id, is_sale, is_guest.
-#}

{#- A line's amount in the reporting currency (var reporting_currency), rounded to the cent per line so
    that every sum of lines is exact. A line already in it is not converted; any other goes through EUR
    at the ECB rates of the line's day (int_exchange_rates__daily: units per EUR of the line's currency
    and of the reporting currency). Null when a rate is missing, which a not_null test reports. -#}
{% macro amount_in_reporting_currency(amount_local, currency_code, units_per_eur, reporting_units_per_eur) -%}
    case
        when {{ currency_code }} = '{{ var("reporting_currency") }}' then round({{ amount_local }}, 2)
        else round({{ amount_local }} * {{ reporting_units_per_eur }} / {{ units_per_eur }}, 2)
    end
{%- endmacro %}

{% macro metric_gross_revenue() -%}
    coalesce(sum(line_amount) filter (where is_sale), 0)
{%- endmacro %}

{% macro metric_returns_amount() -%}
    coalesce(sum(line_amount) filter (where not is_sale), 0)
{%- endmacro %}

{% macro metric_net_revenue() -%}
    ({{ metric_gross_revenue() }} + {{ metric_returns_amount() }})
{%- endmacro %}

{% macro metric_units_sold() -%}
    coalesce(sum(quantity) filter (where is_sale), 0)
{%- endmacro %}

{#- A positive number of units, although the lines carry negative quantities. -#}
{% macro metric_units_returned() -%}
    coalesce(-sum(quantity) filter (where not is_sale), 0)
{%- endmacro %}

{% macro metric_orders() -%}
    count(distinct order_id) filter (where is_sale)
{%- endmacro %}

{% macro metric_guest_orders() -%}
    count(distinct order_id) filter (where is_sale and is_guest)
{%- endmacro %}

{#- Orders that received a return or cancellation line in the period. -#}
{% macro metric_returned_orders() -%}
    count(distinct order_id) filter (where not is_sale)
{%- endmacro %}

{#- Guests have no customer id; count(distinct) ignores the nulls. -#}
{% macro metric_customers() -%}
    count(distinct customer_id) filter (where is_sale)
{%- endmacro %}

{#- Ratios are computed from the additive measures, never averaged. -#}
{% macro metric_avg_order_value(gross_revenue, orders) -%}
    case when {{ orders }} > 0 then round({{ gross_revenue }} / {{ orders }}, 2) end
{%- endmacro %}

{#- Units returned per unit sold, 0..1 for normal data (can exceed 1 when returns outnumber sales). -#}
{% macro metric_return_rate(units_returned, units_sold) -%}
    case when {{ units_sold }} > 0 then round({{ units_returned }}::numeric / {{ units_sold }}, 4) end
{%- endmacro %}

{#- Growth against the previous period in percent. Divided by the absolute previous value so that the
    sign says up or down even when the previous value was negative (a day of only returns); null when
    there is no previous period or it was zero. -#}
{% macro metric_growth_pct(current, previous) -%}
    case when {{ previous }} <> 0 then round(100.0 * ({{ current }} - {{ previous }}) / abs({{ previous }}), 2) end
{%- endmacro %}

{#- The unit and amount totals every aggregate of lines carries, under the names the marts use, and
    the latest file behind them (an incremental model's high-water mark). -#}
{% macro line_totals() -%}
    {{ metric_units_sold() }} as units_sold,
        {{ metric_units_returned() }} as units_returned,
        {{ metric_gross_revenue() }} as gross_revenue,
        {{ metric_returns_amount() }} as returns_amount,
        {{ metric_net_revenue() }} as net_revenue,
        max(file_id) as last_file_id
{%- endmacro %}
