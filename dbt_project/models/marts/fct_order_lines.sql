{#- Every current order line, as the marts publish it: a view of int_order_lines rather than a second
    copy of millions of lines. The layers run one way (intermediate models read int_order_lines, never
    this mart). A PostgreSQL view refers to its table itself, not to its name, so the write-audit-publish
    swap (orchestration/publication.py), which renames the candidate schemas and the published ones
    together, leaves the published view on the published lines and the candidate view on the
    candidate's. -#}
{{ config(materialized='view') }}

-- The mart's columns are int_order_lines' own, whatever they are.
select * from {{ ref('int_order_lines') }}  -- noqa: AM04
