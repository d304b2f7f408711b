{#- The marts count orders and customers on integer_key(id) (macros/keys.sql): two ids with one
    number would be counted as one. Fails the build if that ever happens. -#}
select 'customer' as id_kind, {{ integer_key('customer_id') }} as integer_key, count(*) as ids
from {{ ref('dim_customers') }}
group by 1, 2
having count(*) > 1

union all

select 'order' as id_kind, {{ integer_key('order_id') }} as integer_key, count(*) as ids
from {{ ref('fct_orders') }}
group by 1, 2
having count(*) > 1
