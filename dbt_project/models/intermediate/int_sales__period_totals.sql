{#-
    The shop's totals per day, ISO week (Monday to Sunday) and calendar month, from the metric
    macros. kpi_daily and revenue_trends read it. Distinct counts (orders, customers) cannot be added
    up from days to weeks, so each grain is aggregated from the lines.

    Incremental by period: a run recomputes every period that contains a day with changed lines
    (int_order_footprints), whole, from int_order_lines. The distinct counts sort every line of the
    changed periods once per grain, hence the larger work_mem.
-#}
-- depends_on: {{ ref('int_order_footprints') }}
{{
    config_incremental_by(
        ['period_grain', 'period_start'],
        placeholder_marker='orders',
        pre_hook=["set local work_mem = '256MB'"],
    )
}}

with grains as (
    select period_grain from (values ('day'), ('week'), ('month')) as grains (period_grain)
),

{% if is_incremental() %}
changed_days as (
    {{ changed_days(ref('int_order_footprints')) }}
),

changed_periods as (
    select distinct
        grains.period_grain,
        date_trunc(grains.period_grain, changed_days.order_date)::date as period_start
    from changed_days
    cross join grains
),

changed_period_days as (
    -- Every day of every changed period: a changed day recomputes its whole week and month.
    select distinct generate_series(
        period_start,
        (period_start + ('1 ' || period_grain)::interval - interval '1 day')::date,
        interval '1 day'
    )::date as order_date
    from changed_periods
),
{% endif %}

lines as (
    select * from {{ ref('int_order_lines') }}
    {% if is_incremental() %}
    where order_date = any(array(select changed_period_days.order_date from changed_period_days))
    {% endif %}
),

lines_by_period as (
    -- Only the columns the metrics need: this is sorted for the distinct counts.
    select
        grains.period_grain,
        date_trunc(grains.period_grain, lines.order_date)::date as period_start,
        lines.order_id,
        lines.customer_id,
        lines.is_sale,
        lines.is_guest,
        lines.quantity,
        lines.line_amount,
        lines.file_id
    from lines
    cross join grains
),

totals as (
    select
        period_grain,
        period_start,
        {{ metric_orders() }} as orders,
        {{ metric_guest_orders() }} as guest_orders,
        {{ metric_returned_orders() }} as returned_orders,
        {{ metric_customers() }} as customers,
        {{ line_totals() }}
    from lines_by_period
    {% if is_incremental() %}
    where (period_grain, period_start) in (select period_grain, period_start from changed_periods)
    {% endif %}
    group by period_grain, period_start
)

select * from totals
{% if is_incremental() %}
union all
{{ placeholder_rows('changed_periods', ['period_grain', 'period_start'], 'totals') }}
{% endif %}
