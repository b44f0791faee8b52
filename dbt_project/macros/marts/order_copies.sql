{#- Which copy of an order counts (docs/rules.md#attribution): the order of a window's
    `order by` over the copies that compete for it, the first counting. The first received
    counts; copies received together (one import) go by conversion time: the random
    event_id only breaks a tie of both, so the same files always credit the same copy. -#}
{% macro order_copies_first_counted() -%}
    received_at asc nulls last, converted_at asc nulls last, event_id asc
{%- endmacro %}
