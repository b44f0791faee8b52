{#- Retention (SPEC §4.3), the one way row-level data leaves the warehouse - a rolling
    window, not per-length copies:

        dbt run-operation prune_row_level_data \
            --args '{as_of: "2026-03-01", retention_days: 31}' \
            --vars '{attribution_window_days: 30, reporting_timezone: "UTC"}'

    A tracking id is pruned when its click (the earliest, int_clicks_per_tracking_id) is
    older than the horizon, as_of - retention_days days at 00:00 UTC. Then its clicks and
    conversions go from raw, the intermediates and the row-level marts, and so do
    conversions older than the horizon that have no click at all. retention_days defaults
    to var('retention_days'), itself attribution_window_days + 1, and may never be less:
    a shorter one would take the click from a conversion still inside its window.

    What stays, in the `retention` schema (macros/retention/retention_tables.sql): the
    pruned tracking ids (no IP, user agent or event data), and what the pruned rows
    contributed to agg_daily_link_metrics, so that no recompute of any day can change a
    total there. Pass the run's reporting_timezone: those contributions are in its days.

    Run it after a build (it reads which clicks count from int_clicks_per_tracking_id);
    one transaction; running it twice changes nothing. -#}
{% macro prune_row_level_data(as_of, retention_days=none) %}
    {%- set window_days = var('attribution_window_days') | int -%}
    {%- set minimum_days = window_days + 1 -%}
    {%- set days = default_retention_days() if retention_days is none else retention_days | int -%}
    {%- if days < minimum_days -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention_days=" ~ days ~ " is less than "
            ~ "attribution_window_days + 1 = " ~ minimum_days ~ ": conversions still inside "
            ~ "their window would lose their click. Pass retention_days >= " ~ minimum_days ~ "."
        ) }}
    {%- endif -%}
    {%- set as_of_date = modules.datetime.date.fromisoformat(as_of | string | trim) -%}
    {%- set horizon = (as_of_date - modules.datetime.timedelta(days=days)).isoformat() -%}
    {%- set horizon_ts = "cast('" ~ horizon ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}

    {%- set clicks = ref('int_clicks_per_tracking_id') -%}
    {%- if not _relation_exists(clicks) -%}
        {{ log("prune_row_level_data: nothing built yet, nothing to prune", info=true) }}
        {{ return(none) }}
    {%- endif -%}

    {%- call statement('create_retention_tables') -%}
        {{ create_retention_tables() }}
    {%- endcall -%}
    {%- set pruned_ids = retention_schema() ~ ".pruned_tracking_ids" -%}
    {%- set pruned_metrics = retention_schema() ~ ".pruned_daily_link_metrics" -%}
    {%- set is_pruned = "tracking_id in (select tracking_id from " ~ pruned_ids ~ ")" -%}

    {#- 1. Remember the tracking ids, then what their rows gave the daily history. -#}
    {%- call statement('record_pruned_tracking_ids') -%}
        insert into {{ pruned_ids }}
        select
            tracking_id,
            campaign_link_id,
            cast(clicked_at as date) as clicked_on,
            cast('{{ as_of_date }}' as date) as pruned_as_of
        from {{ clicks }}
        where clicked_at < {{ horizon_ts }}
            and tracking_id not in (select tracking_id from {{ pruned_ids }})
    {%- endcall -%}
    {%- set fct_clicks = ref('fct_clicks') -%}
    {%- set fct_conversions = ref('fct_conversions') -%}
    {%- if _relation_exists(fct_clicks) and _relation_exists(fct_conversions) -%}
        {%- call statement('record_pruned_daily_link_metrics') -%}
            insert into {{ pruned_metrics }}
            with
            pruned_clicks as (
                select * from {{ fct_clicks }} where {{ is_pruned }}
            ),
            pruned_conversions as (
                select * from {{ fct_conversions }} where {{ is_pruned }}
            ),
            contributions as (
                {{ daily_link_metrics('pruned_clicks', 'pruned_conversions') }}
            )
            select
                metric_date,
                campaign_link_id,
                event_type,
                cast(clicks as {{ dbt.type_bigint() }}) as clicks,
                cast(bot_clicks as {{ dbt.type_bigint() }}) as bot_clicks,
                cast(conversions as {{ dbt.type_bigint() }}) as conversions,
                revenue,
                cast('{{ as_of_date }}' as date) as pruned_as_of
            from contributions
        {%- endcall -%}
    {%- endif -%}

    {#- 2. Delete. Conversions first: "no click" is judged on raw clicks still there. -#}
    {%- set no_click_and_old = "converted_at < " ~ horizon_ts ~ " and tracking_id not in "
        ~ "(select tracking_id from " ~ source('collector', 'clicks') ~ ")" -%}
    {%- set deletes = [
        (source('collector', 'conversions'), is_pruned ~ " or (" ~ no_click_and_old ~ ")"),
        (source('collector', 'clicks'), is_pruned),
        (ref('int_conversions_matched_to_clicks'),
            is_pruned ~ " or (converted_at < " ~ horizon_ts ~ " and clicked_at is null)"),
        (clicks, is_pruned),
        (fct_conversions, is_pruned),
        (ref('fct_unattributed_conversions'),
            is_pruned ~ " or (converted_at < " ~ horizon_ts ~ " and clicked_at is null)"),
        (fct_clicks, is_pruned),
        (ref('mart_attribution'), is_pruned),
    ] -%}
    {%- for relation, condition in deletes if _relation_exists(relation) -%}
        {%- set doomed = run_query("select count(*) from " ~ relation ~ " where " ~ condition) -%}
        {%- call statement('prune_' ~ relation.identifier) -%}
            delete from {{ relation }} where {{ condition }}
        {%- endcall -%}
        {{ log("prune_row_level_data: " ~ doomed.columns[0].values()[0] ~ " rows of "
            ~ relation ~ " deleted (click before " ~ horizon ~ ")", info=true) }}
    {%- endfor -%}
    {%- do adapter.commit() -%}
{% endmacro %}

{#- var('retention_days'), or attribution_window_days + 1 when it is not set: the
    default lives here, derived from the window, never as a second literal. -#}
{% macro default_retention_days() -%}
    {%- set configured = var('retention_days', none) -%}
    {%- if configured is none or (configured | string | trim) == '' -%}
        {{ return((var('attribution_window_days') | int) + 1) }}
    {%- endif -%}
    {{ return(configured | int) }}
{%- endmacro %}

{% macro _relation_exists(relation) -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is not none) }}
{%- endmacro %}
