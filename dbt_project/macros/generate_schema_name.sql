{#- The physical schemas are part of the interface: Superset reads `marts`, and the pipeline swaps the
    candidate schemas it builds (`marts_candidate`, var schema_suffix) with the published ones once the
    quality gates passed (write-audit-publish). So a model's custom schema is used as-is, not prefixed
    with the target's, and gets the suffix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ var('schema_suffix', '') }}
    {%- endif -%}
{%- endmacro %}
