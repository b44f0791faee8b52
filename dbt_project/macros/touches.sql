{#- A conversion's touches (docs/rules.md#touches), one row each: the columns `columns`
    of `relation` and, per element of its `touches` list, `touch_position` (1 for the
    oldest) and the touch's `touch_tracking_id` and `touch_campaign_link_id`. Rows whose
    list is null or empty give no row. Unnesting, and parsing the raw text below, are
    what the engines spell differently here. -#}
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

{#- A conversion's touches as the raw column holds them, JSON text
    (docs/schemas.md#raw-events), read back as the list `touches_unnested` takes: each touch a struct of `tracking_id`
    and `campaign_link_id`, oldest first. `text`, `tracking_id` and `campaign_link_id` are
    column expressions: the raw text and the conversion's own ids.

    What the collector writes always reads back whole. Anything else it could not have
    written - text that is no JSON, no array, an empty one, a touch without both ids, a
    path not ending with the conversion's own ids (a file written by hand) - reads as
    null, no touches: the conversion's own click is its one touch, and no such row can
    fail the build or take `last_click` from its own click (docs/rules.md#touches). -#}
{% macro touches_parsed(text, tracking_id, campaign_link_id) -%}
    {%- set parsed = adapter.dispatch('touches_parsed', 'convtrack') -%}
    {{ return(parsed(text, tracking_id, campaign_link_id)) }}
{%- endmacro %}

{% macro default__touches_parsed(text, tracking_id, campaign_link_id) -%}
    {{ exceptions.raise_compiler_error("touches_parsed is not implemented for " ~ target.type) }}
{%- endmacro %}

{% macro duckdb__touches_parsed(text, tracking_id, campaign_link_id) -%}
    {%- set parsed -%}
        from_json({{ text }}, '[{"tracking_id": "VARCHAR", "campaign_link_id": "VARCHAR"}]')
    {%- endset -%}
    {#- Nested: from_json raises on text that is no JSON, so it never sees such text. -#}
    case
        when json_valid({{ text }}) then
            case
                when
                    len({{ parsed }}) > 0
                    and list_bool_and(list_transform(
                        {{ parsed }},
                        lambda touch: touch.tracking_id is not null
                        and touch.campaign_link_id is not null
                    ))
                    and {{ parsed }}[-1].tracking_id = {{ tracking_id }}
                    and {{ parsed }}[-1].campaign_link_id = {{ campaign_link_id }}
                    then {{ parsed }}
            end
    end
{%- endmacro %}

{% macro spark__touches_parsed(text, tracking_id, campaign_link_id) -%}
    {%- set parsed -%}
        from_json({{ text }}, 'array<struct<tracking_id:string,campaign_link_id:string>>')
    {%- endset -%}
    {#- json_array_length is null for text that is no JSON array; from_json is null for
        text that is no JSON. A lone object is left out before from_json, which would read
        it as an array of one. -#}
    case
        when
            json_array_length({{ text }}) > 0
            and forall(
                {{ parsed }},
                touch -> touch.tracking_id is not null and touch.campaign_link_id is not null
            )
            and element_at({{ parsed }}, -1).tracking_id = {{ tracking_id }}
            and element_at({{ parsed }}, -1).campaign_link_id = {{ campaign_link_id }}
            then {{ parsed }}
    end
{%- endmacro %}
