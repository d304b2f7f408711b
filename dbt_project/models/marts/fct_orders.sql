{#- One row per order with at least one current line. Incremental by order, like int_order_lines: an
    order is rebuilt from all its current lines whenever one of them is newer than this table. -#}
{{
    config_incremental_by(
        'order_id',
        indexes=[
            {'columns': ['order_id'], 'unique': true},
            {'columns': ['customer_id']},
            {'columns': ['last_file_id']},
        ],
    )
}}

with lines as (
    select * from {{ ref('int_order_lines') }}
    {% if is_incremental() %}
    where order_id = any(array({{ changed_orders(ref('int_order_lines')) }}))
    {% endif %}
),

orders as (
    select
        order_id,
        -- An order's sale lines share customer, country and channel; max() picks it deterministically.
        -- Only an order whose sale is not in the data takes them from its return lines: a guest sale
        -- stays a guest order even if a return line carries a customer id.
        case when bool_or(is_sale) then max(customer_id) filter (where is_sale) else max(customer_id) end
            as customer_id,
        coalesce(min(order_date) filter (where is_sale), min(order_date)) as order_date,
        coalesce(min(ordered_at) filter (where is_sale), min(ordered_at)) as ordered_at,
        coalesce(max(country_code) filter (where is_sale), max(country_code)) as country_code,
        coalesce(max(sales_channel) filter (where is_sale), max(sales_channel)) as sales_channel,
        bool_or(is_sale) as has_sale,
        bool_or(not is_sale) as has_return,
        bool_or(order_status = 'cancelled') as is_cancelled,
        min(order_date) filter (where not is_sale) as first_return_date,
        count(*) filter (where is_sale) as sale_lines,
        count(*) filter (where not is_sale) as return_lines,
        {{ line_totals() }}
    from lines
    group by order_id
)

select
    order_id,
    customer_id,
    customer_id is null as is_guest,
    order_date,
    ordered_at,
    country_code,
    sales_channel,
    case
        when is_cancelled then 'cancelled'
        when has_return then 'returned'
        else 'completed'
    end as order_status,
    has_sale,
    has_return,
    first_return_date,
    sale_lines,
    return_lines,
    units_sold,
    units_returned,
    gross_revenue,
    returns_amount,
    net_revenue,
    last_file_id
from orders
