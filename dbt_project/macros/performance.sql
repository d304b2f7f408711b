{#-
    The body of a lifetime performance mart (product_performance, category_performance,
    country_performance): the daily sales of `daily` added up per `dimension`, so that it costs little
    on every run, and the ratios, shares and ranks computed from those sums (never averaged).

    columns: the mart's columns after the dimension, in order. A name this macro defines below is
    computed here; anything else is an "expression as name" over `details`, a query with at most one
    row per value of the dimension (the dimension's attributes or counts that the daily sales cannot
    give), left joined.
-#}
{% macro performance_by(dimension, daily, columns, details=none) %}
{%- set measures = {
    'orders': 'totals.orders',
    'units_sold': 'totals.units_sold',
    'units_returned': 'totals.units_returned',
    'net_units': 'totals.units_sold - totals.units_returned',
    'gross_revenue': 'totals.gross_revenue',
    'returns_amount': 'totals.returns_amount',
    'net_revenue': 'totals.net_revenue',
    'avg_order_value': metric_avg_order_value('totals.gross_revenue', 'totals.orders'),
    'return_rate': metric_return_rate('totals.units_returned', 'totals.units_sold'),
    'revenue_share': 'case when sum(totals.net_revenue) over () <> 0'
        ~ ' then round(totals.net_revenue / sum(totals.net_revenue) over (), 4) end',
    'revenue_rank': 'rank() over (order by totals.net_revenue desc)',
    'units_rank': 'rank() over (order by totals.units_sold - totals.units_returned desc)',
} -%}
with totals as (
    select
        {{ dimension }},
        sum(orders) as orders,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned,
        sum(gross_revenue) as gross_revenue,
        sum(returns_amount) as returns_amount,
        sum(net_revenue) as net_revenue
    from {{ daily }}
    group by {{ dimension }}
){% if details is not none %},

details as (
    {{ details }}
){% endif %}

select
    totals.{{ dimension }},
    {%- for column in columns %}
    {{ measures[column] ~ ' as ' ~ column if column in measures else column }}{{ "," if not loop.last }}
    {%- endfor %}
from totals
{%- if details is not none %}
left join details on totals.{{ dimension }} = details.{{ dimension }}
{%- endif %}
{% endmacro %}
