{#- What a prune records so that a refund arriving after its purchase's click was pruned
    still counts against the right link and day, under every model (docs/rules.md#refunds,
    macros/retention/retention_tables.sql). Steps of prune_row_level_data, which passes
    its tables, conditions and as_of. -#}

{#- The order facts of the credited purchases that go (`pruned_now` of this prune), as
    fct_conversions has them. No personal data. -#}
{% macro record_pruned_order_facts(table, fct_conversions, pruned_now, as_of_sql, fail_after) -%}
    {%- call statement('record_pruned_order_facts') -%}
        insert into {{ table }}
        select
            order_id,
            event_id,
            campaign_link_id,
            converted_at,
            revenue_amount,
            {{ as_of_sql }} as pruned_as_of
        from {{ fct_conversions }}
        where {{ pruned_now }}
            and event_type = 'purchase'
            and order_id is not null
            and event_id not in (select event_id from {{ table }})
    {%- endcall -%}
    {{ prune_checkpoint('record ' ~ table, fail_after) }}
{%- endmacro %}

{#- Each touch's credits, as int_attribution_credits has them now, of the purchases among
    the conversions whose credits the prune records (`recorded_now`): a refund of the
    order is split by these. -#}
{% macro record_pruned_purchase_credits(table, credits, recorded_now, as_of_sql, fail_after) -%}
    {%- call statement('record_pruned_purchase_credits') -%}
        insert into {{ table }}
        select
            event_id,
            attribution_model,
            touch_position,
            touch_campaign_link_id,
            credited_revenue,
            {{ as_of_sql }} as pruned_as_of
        from {{ credits }}
        where {{ recorded_now }}
            and event_type = 'purchase'
    {%- endcall -%}
    {{ prune_checkpoint('record ' ~ table, fail_after) }}
{%- endmacro %}
