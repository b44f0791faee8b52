{#- The attribution models, in the order the marts show them (docs/rules.md#attribution-models):
    the one list of their names. int_attribution_credits gives each its rule;
    mart_model_comparison gives each its columns. -#}
{% macro attribution_models() -%}
    {{ return(['last_click', 'first_click', 'linear', 'position_based', 'time_decay']) }}
{%- endmacro %}
