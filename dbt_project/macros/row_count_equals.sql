{#- Grain test for single-row models such as _meta: fails unless the model has exactly
    `expected` rows. -#}
{% test row_count_equals(model, expected) %}

    select n_records
    from (select count(*) as n_records from {{ model }}) as counted
    where n_records != {{ expected }}

{% endtest %}
