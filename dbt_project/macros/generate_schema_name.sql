{#- Custom schemas are used verbatim (staging, intermediate, marts), not prefixed with
    the target schema: the publish step copies the `marts` schema by that exact name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
