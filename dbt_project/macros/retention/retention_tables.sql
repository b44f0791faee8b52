{#- The `retention` schema: what pruning leaves behind so that nothing it removes changes
    an answer. Not published (publish copies `marts` only), and no IP, user agent or event
    data in it.
    - pruned_tracking_ids: tracking ids whose click was pruned, with link and click day,
      so a conversion arriving later is `click_pruned`, not `no_click`, and a re-loaded
      copy of a pruned click never comes back.
    - pruned_daily_link_metrics: what the pruned rows contributed to
      agg_daily_link_metrics, in its grain, so recomputing any day gives the same totals
      after pruning as before.
    Created by on-run-start (the models read them as sources) and by the prune itself. -#}
{% macro create_retention_tables() -%}
    create schema if not exists {{ retention_schema() }};
    create table if not exists {{ retention_schema() }}.pruned_tracking_ids (
        tracking_id {{ dbt.type_string() }},
        campaign_link_id {{ dbt.type_string() }},
        clicked_on date,
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_daily_link_metrics (
        metric_date date,
        campaign_link_id {{ dbt.type_string() }},
        event_type {{ dbt.type_string() }},
        clicks {{ dbt.type_bigint() }},
        bot_clicks {{ dbt.type_bigint() }},
        conversions {{ dbt.type_bigint() }},
        revenue decimal(18, 2),
        pruned_as_of date
    ) {{ retention_table_options() }};
{%- endmacro %}

{% macro retention_schema() -%}
    {{ return('retention') }}
{%- endmacro %}

{#- Spark needs Delta for the deletes pruning runs. -#}
{% macro retention_table_options() -%}
    {{ return(adapter.dispatch('retention_table_options', 'convtrack')()) }}
{%- endmacro %}

{% macro default__retention_table_options() -%}
{%- endmacro %}

{% macro spark__retention_table_options() -%}
    using delta
{%- endmacro %}
