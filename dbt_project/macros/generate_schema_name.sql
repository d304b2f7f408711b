{#- The physical schemas (staging, intermediate, marts) are part of the interface: Superset and the
    quality checks read them by name. So a model's custom schema is used as-is, not prefixed. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
