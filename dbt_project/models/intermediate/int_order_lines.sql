{#-
    The priced order lines, stored: the one table of every current line, which every model that
    aggregates lines reads through its indexes, and which the mart fct_order_lines shows as it is.

    Incremental by order: the loader replaces every line of a re-sent order (per part, sales or
    returns), deleting the old rows from raw. So an incremental run takes every order that has a line
    from a file newer than the high-water mark, and delete+insert swaps ALL of its current lines in:
    lines the loader deleted disappear here too. See macros/incremental.sql for why file_id.
-#}
{{
    config_incremental_by(
        'order_id',
        indexes=[
            {'columns': ['order_line_id'], 'unique': true},
            {'columns': ['order_id']},
            {'columns': ['order_date']},
            {'columns': ['customer_id']},
            {'columns': ['file_id']},
        ],
    )
}}

with lines as (
    select * from {{ ref('int_order_lines__priced') }}
)

select
    lines.order_line_id,
    lines.order_id,
    lines.order_date,
    lines.ordered_at,
    lines.customer_id,
    lines.is_guest,
    lines.product_id,
    lines.product_name,
    lines.category,
    lines.country_code,
    lines.sales_channel,
    lines.order_status,
    lines.is_sale,
    lines.quantity,
    lines.unit_price,
    lines.currency_code,
    lines.line_amount_local,
    lines.line_amount,
    lines.file_id,
    lines.loaded_at
from lines
{% if is_incremental() %}
where lines.order_id = any(array({{ changed_orders(ref('int_order_lines__priced'), 'file_id') }}))
{% endif %}
