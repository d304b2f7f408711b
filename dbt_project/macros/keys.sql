{#- A 64-bit integer for a text id, the same in every model and every build: the marts carry it
    beside the id because PostgreSQL counts distinct integers many times faster than text in the
    warehouse's C.UTF-8 collation (the dashboards' distinct counts of orders and customers).
    Two ids with the same number would be counted once: the unique tests on dim_customers.customer_key
    and fct_orders.order_key fail the build if that ever happens (about 1 in 10^7 for 2.4 million ids). -#}
{% macro integer_key(column) -%}
    hashtextextended({{ column }}, 0)
{%- endmacro %}
