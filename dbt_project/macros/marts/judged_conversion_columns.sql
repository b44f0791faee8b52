{#- The columns of a judged conversion, in order: the contract fct_conversions and
    fct_unattributed_conversions share (the ledger adds `reason` after them). Both select
    them from int_conversions_matched_to_clicks, so names, order and types agree, and a
    conversion re-judged from one table into the other keeps its shape. -#}
{% macro judged_conversion_columns() -%}
    {{ return([
        'event_id',
        'tracking_id',
        'campaign_link_id',
        'event_type',
        'revenue_amount',
        'currency',
        'order_id',
        'event_data',
        'converted_at',
        'received_at',
        'source',
        'clicked_at',
        'days_since_click',
    ]) }}
{%- endmacro %}
