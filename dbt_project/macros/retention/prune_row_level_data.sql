{#- Retention, the one way row-level data leaves the warehouse - a rolling
    window, not per-length copies (docs/rules.md#retention):

        dbt run-operation prune_row_level_data \
            --args '{as_of: "2026-03-01", retention_days: 31}' \
            --vars '{attribution_window_days: 30, reporting_timezone: "UTC"}'

    A tracking id is pruned when its click (the earliest, int_clicks_per_tracking_id) is
    older than the horizon, as_of - retention_days days at 00:00 UTC. Then its clicks and
    conversions go from raw, the intermediates and the row-level marts, and so do
    conversions older than the horizon that have no click at all.

    retention_days is required: the orchestration passes CONVTRACK_RETENTION_DAYS, whose
    default lives in the settings. It may never be less than attribution_window_days +
    var('retention_beyond_window_days'): a shorter one would take the click from a
    conversion still inside its window.

    What stays, in the `retention` schema (macros/retention/retention_tables.sql): the
    pruned tracking ids (no IP, user agent or event data), which of them were human
    converting clicks, what the pruned rows contributed to agg_daily_link_metrics, the
    event ids of the conversions removed, the order ids they counted, and the horizon.
    So no recompute of any day can change a total there, and no lifetime mart (built
    from those) changes either. Pass the run's reporting_timezone: the contributions are
    in its days.

    Run it after a build (it reads which clicks count from int_clicks_per_tracking_id);
    one transaction. Running it twice changes nothing: every record is of rows still
    there, and skips what an earlier prune recorded. -#}
{% macro prune_row_level_data(as_of, retention_days=none) %}
    {%- set window_days = run_var('attribution_window_days') | int -%}
    {%- set beyond_days = var('retention_beyond_window_days') | int -%}
    {%- set minimum_days = window_days + beyond_days -%}
    {%- if retention_days is none or (retention_days | string | trim) == '' -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention_days is required, e.g. --args "
            ~ "'{as_of: \"2026-03-01\", retention_days: " ~ minimum_days ~ "}' "
            ~ "(at least attribution_window_days + " ~ beyond_days ~ " = " ~ minimum_days ~ ")."
        ) }}
    {%- endif -%}
    {%- set days = retention_days | int -%}
    {%- if days < minimum_days -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention_days=" ~ days ~ " is less than "
            ~ "attribution_window_days + " ~ beyond_days ~ " = " ~ minimum_days
            ~ ": conversions still inside their window would lose their click. "
            ~ "Pass retention_days >= " ~ minimum_days ~ "."
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
    {%- set pruned_converting = retention_schema() ~ ".pruned_converting_clicks" -%}
    {%- set pruned_conversions = retention_schema() ~ ".pruned_conversion_ids" -%}
    {%- set pruned_orders = retention_schema() ~ ".pruned_order_ids" -%}
    {%- set prune_log = retention_schema() ~ ".prune_log" -%}
    {%- set is_pruned = "tracking_id in (select tracking_id from " ~ pruned_ids ~ ")" -%}
    {%- set as_of_sql = "cast('" ~ as_of_date ~ "' as date)" -%}

    {#- 1. Remember the prune, the tracking ids, which of them were human converting
        clicks, then what their rows gave the daily history. -#}
    {%- call statement('record_prune') -%}
        insert into {{ prune_log }}
        select
            {{ as_of_sql }} as pruned_as_of,
            {{ days }} as retention_days,
            cast('{{ horizon }}' as date) as horizon
        from (select 1 as one) as this_prune
        where not exists (
            select 1 from {{ prune_log }}
            where pruned_as_of = {{ as_of_sql }} and horizon = cast('{{ horizon }}' as date)
        )
    {%- endcall -%}
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
    {%- set converting_clicks = ref('int_converting_clicks') -%}
    {%- if _relation_exists(converting_clicks) -%}
        {%- call statement('record_pruned_converting_clicks') -%}
            insert into {{ pruned_converting }}
            select
                tracking_id,
                campaign_link_id,
                {{ as_of_sql }} as pruned_as_of
            from {{ converting_clicks }}
            where {{ is_pruned }}
                and tracking_id not in (select tracking_id from {{ pruned_converting }})
        {%- endcall -%}
    {%- endif -%}
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
        {%- call statement('record_pruned_order_ids') -%}
            insert into {{ pruned_orders }}
            select distinct
                order_id,
                {{ as_of_sql }} as pruned_as_of
            from {{ fct_conversions }}
            where {{ is_pruned }}
                and event_type = 'purchase'
                and order_id is not null
                and order_id not in (select order_id from {{ pruned_orders }})
        {%- endcall -%}
    {%- endif -%}

    {#- 2. Remember which conversions go, then delete. Conversions first: "no click" is
        judged on raw clicks still there. -#}
    {%- set no_click_and_old = "converted_at < " ~ horizon_ts ~ " and tracking_id not in "
        ~ "(select tracking_id from " ~ source('collector', 'clicks') ~ ")" -%}
    {%- set raw_conversions = source('collector', 'conversions') -%}
    {%- set conversion_goes = is_pruned ~ " or (" ~ no_click_and_old ~ ")" -%}
    {%- if _relation_exists(raw_conversions) -%}
        {%- call statement('record_pruned_conversion_ids') -%}
            insert into {{ pruned_conversions }}
            select distinct
                event_id,
                {{ as_of_sql }} as pruned_as_of
            from {{ raw_conversions }}
            where ({{ conversion_goes }})
                and event_id not in (select event_id from {{ pruned_conversions }})
        {%- endcall -%}
    {%- endif -%}
    {%- set deletes = [
        (raw_conversions, conversion_goes),
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

    {#- 3. The published marts say from when on clicks are kept, from this prune on (the
        next build reads it from the prune log). -#}
    {%- set meta = ref('_meta') -%}
    {%- if _relation_exists(meta)
        and 'retained_since' in adapter.get_columns_in_relation(meta) | map(attribute='name') | list -%}
        {%- call statement('record_retained_since') -%}
            update {{ meta }}
            set retained_since = cast('{{ horizon }}' as date)
            where retained_since is null or retained_since < cast('{{ horizon }}' as date)
        {%- endcall -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
{% endmacro %}

{% macro _relation_exists(relation) -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is not none) }}
{%- endmacro %}
