{#-
    Where each order's lines are and were: one row per (order, reporting day, customer, part, file) of
    its current lines, plus the combinations that a re-sent order's replacement made disappear. The
    part (sale or return lines) is in the key because the loader replaces the parts separately.

    Why: the loader replaces a re-sent order's lines (deleting the old rows from raw), and
    int_order_lines follows. The incremental models downstream must then recompute the days and
    customers of the new lines AND of the lines that are gone, which no other table remembers. This
    model keeps them: an incremental run compares the changed orders' current lines with its own rows
    and keeps the vanished ones, stamped with the file that replaced them.

    changed_file_id is the file that made the row relevant: the lines' own file for current rows, the
    replacing file for vanished ones. A downstream model recomputes the days / customers of the rows
    whose changed_file_id is above its own high-water mark. Lines that were not replaced keep their old
    file id, so a return arriving for an old order recomputes the return's day, not the sale's.
-#}
{{ config_incremental_by('order_id', indexes=[{'columns': ['order_id']}, {'columns': ['changed_file_id']}]) }}

with current_lines as (
    select * from {{ ref('int_order_lines') }}
    {% if is_incremental() %}
    where order_id = any(array({{ changed_orders(ref('int_order_lines'), 'changed_file_id') }}))
    {% endif %}
),

current_footprints as (
    select distinct
        order_id,
        order_date,
        customer_id,
        is_sale,
        file_id,
        file_id as changed_file_id,
        true as is_current
    from current_lines
)

{% if is_incremental() %}
, replacing_files as (
    select order_id, max(file_id) as replacing_file_id
    from current_lines
    group by order_id
),

vanished_footprints as (
    -- Rows of the changed orders that the current lines no longer have. Rows that vanished in an
    -- earlier run keep the file that replaced them then.
    select
        earlier.order_id,
        earlier.order_date,
        earlier.customer_id,
        earlier.is_sale,
        earlier.file_id,
        case when earlier.is_current then replacing_files.replacing_file_id else earlier.changed_file_id end
            as changed_file_id,
        false as is_current
    from {{ this }} as earlier
    inner join replacing_files on earlier.order_id = replacing_files.order_id
    where earlier.order_id = any(array(select replacing_files.order_id from replacing_files))
        and not exists (
            select 1
            from current_footprints
            where current_footprints.order_id = earlier.order_id
                and current_footprints.order_date = earlier.order_date
                and current_footprints.customer_id is not distinct from earlier.customer_id
                and current_footprints.is_sale = earlier.is_sale
                and current_footprints.file_id = earlier.file_id
        )
)
{% endif %}

select order_id, order_date, customer_id, is_sale, file_id, changed_file_id, is_current
from current_footprints
{% if is_incremental() %}
union all
select order_id, order_date, customer_id, is_sale, file_id, changed_file_id, is_current
from vanished_footprints
{% endif %}
