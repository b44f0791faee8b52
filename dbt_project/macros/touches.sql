{#- A conversion's touches (docs/rules.md#touches), one row each: the columns `columns`
    of `relation` and, per element of its `touches` list, `touch_position` (1 for the
    oldest) and the touch's `touch_tracking_id` and `touch_campaign_link_id`. Rows whose
    list is null or empty give no row. Unnesting is the one thing the engines spell
    differently here. -#}
{% macro touches_unnested(relation, columns) -%}
    {{ return(adapter.dispatch('touches_unnested', 'convtrack')(relation, columns)) }}
{%- endmacro %}

{% macro default__touches_unnested(relation, columns) -%}
    {{ exceptions.raise_compiler_error("touches_unnested is not implemented for " ~ target.type) }}
{%- endmacro %}

{% macro duckdb__touches_unnested(relation, columns) -%}
    select
        {{ columns | join(', ') }},
        touch_position,
        touches[touch_position].tracking_id as touch_tracking_id,
        touches[touch_position].campaign_link_id as touch_campaign_link_id
    from (
        select
            *,
            generate_subscripts(touches, 1) as touch_position
        from {{ relation }}
    ) as positioned
{%- endmacro %}

{% macro spark__touches_unnested(relation, columns) -%}
    select
        {{ columns | join(', ') }},
        exploded.touch_index + 1 as touch_position,
        exploded.touch.tracking_id as touch_tracking_id,
        exploded.touch.campaign_link_id as touch_campaign_link_id
    from {{ relation }}
    lateral view posexplode(touches) exploded as touch_index, touch
{%- endmacro %}
