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
    default lives in the settings. It may never be less than the longest window in use
    (longest_window_days: the default or a link's own) + var('retention_beyond_window_days'):
    a shorter one would take the click from a conversion still inside its window.

    What stays, in the `retention` schema, is listed in macros/retention/
    retention_tables.sql: no IP, user agent or event data; the pruned tracking ids, what
    the removed rows gave each lifetime mart, and the horizon.
    So no recompute of any day can change a total there, and no lifetime mart (built
    from those) changes either. Pass the run's reporting_timezone: the contributions are
    in its days.

    Run it after a build (it reads which clicks count from int_clicks_per_tracking_id).
    On DuckDB it is one transaction. On Spark nothing is: every step stands on its own,
    and a prune re-run after a crash at any step - or the next prune, as of any day -
    ends exactly where an uninterrupted one would, recording nothing twice:
      - a prune's records carry its as_of; it notes its start (prune_started) before
        them and its row in the prune log after them all: started and not logged is
        unfinished. The models read finished prunes' records only (finished_prunes_only),
        and each prune first discards those of an unfinished one, as of any day;
      - a prune already in the log records nothing again, and only finishes the removals,
        which are idempotent; one as of a logged day that would reach further than the
        logged horizon is refused (it could not tell its records from the first's);
      - rows are removed by rewriting the table on Spark (macros/retention/
        rewrite_rows.sql), which a crash cannot leave half done.
    Running it twice changes nothing.

    fail_after (tests only): the name of a step (logged as "step done: <name>") after
    which the prune stops with an error, as a crash there would: the deterministic way
    to interrupt it after each step in turn (tests/orchestration/test_prune_interrupted.py).
    A name that is no step of the prune is an error after the prune has finished. -#}
{% macro prune_row_level_data(as_of, retention_days=none, fail_after=none) %}
    {%- set window_days = longest_window_days() -%}
    {%- set beyond_days = var('retention_beyond_window_days') | int -%}
    {%- set minimum_days = window_days + beyond_days -%}
    {%- if retention_days is none or (retention_days | string | trim) == '' -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention_days is required, e.g. --args "
            ~ "'{as_of: \"2026-03-01\", retention_days: " ~ minimum_days ~ "}' "
            ~ "(at least the longest window in use + " ~ beyond_days ~ " = " ~ minimum_days ~ ")."
        ) }}
    {%- endif -%}
    {%- set days = retention_days | int -%}
    {%- if days < minimum_days -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention_days=" ~ days ~ " is less than "
            ~ "the longest window in use (" ~ window_days ~ " days) + " ~ beyond_days ~ " = "
            ~ minimum_days
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

    {{ finish_interrupted_rewrites() }}
    {#- DuckDB: the script to run; Spark runs it statement by statement itself. -#}
    {%- set create_script = create_retention_tables() -%}
    {%- if create_script | trim -%}
        {%- call statement('create_retention_tables') -%}
            {{ create_script }}
        {%- endcall -%}
    {%- endif -%}
    {%- set pruned_ids = retention_schema() ~ ".pruned_tracking_ids" -%}
    {%- set pruned_metrics = retention_schema() ~ ".pruned_daily_link_metrics" -%}
    {%- set pruned_converting = retention_schema() ~ ".pruned_converting_clicks" -%}
    {%- set pruned_conversions = retention_schema() ~ ".pruned_conversion_ids" -%}
    {%- set pruned_orders = retention_schema() ~ ".pruned_order_ids" -%}
    {%- set pruned_credits = retention_schema() ~ ".pruned_attribution_credits" -%}
    {%- set pruned_touches = retention_schema() ~ ".pruned_touch_verification" -%}
    {%- set pruned_credited = retention_schema() ~ ".pruned_credited_event_ids" -%}
    {%- set pruned_order_facts = retention_schema() ~ ".pruned_order_facts" -%}
    {%- set pruned_purchase_credits = retention_schema() ~ ".pruned_purchase_credits" -%}
    {%- set pruned_windows = retention_schema() ~ ".pruned_window_sensitivity" -%}
    {%- set pruned_window_orders = retention_schema() ~ ".pruned_window_order_ids" -%}
    {%- set prune_log = retention_schema() ~ ".prune_log" -%}
    {%- set prune_started = retention_schema() ~ ".prune_started" -%}
    {%- set as_of_sql = "cast('" ~ as_of_date ~ "' as date)" -%}
    {%- set is_pruned = "tracking_id in (select tracking_id from " ~ pruned_ids ~ ")" -%}
    {%- set pruned_now = "tracking_id in (select tracking_id from " ~ pruned_ids
        ~ " where pruned_as_of = " ~ as_of_sql ~ ")" -%}

    {#- 1. What a prune that stopped part-way through recording left goes: its records
        count nowhere (finished_prunes_only) and it is not in the log. -#}
    {%- set unfinished = "pruned_as_of in (" ~ unfinished_prunes(prune_started, prune_log) ~ ")" -%}
    {#- Its start last: until then its records are still told apart as unfinished. -#}
    {%- for table in [
        pruned_ids, pruned_converting, pruned_metrics, pruned_orders, pruned_conversions,
        pruned_credits, pruned_touches, pruned_credited, pruned_windows, pruned_window_orders,
        pruned_order_facts, pruned_purchase_credits,
        prune_started,
    ] -%}
        {%- set left = run_query("select count(*) from " ~ table ~ " where " ~ unfinished) -%}
        {%- if left.columns[0].values()[0] > 0 -%}
            {{ delete_rows(_relation(table), unfinished, 'discard unfinished ' ~ table, fail_after) }}
        {%- endif -%}
    {%- endfor -%}

    {#- 2. Record the prune, unless it was recorded before (the prune log, written last, is
        the mark): the tracking ids, which of them were human converting clicks, what
        their rows gave the daily history, the order ids they counted, the conversions
        that go; each of this prune's records from this prune's tracking ids only. -#}
    {%- set logged = run_query(
        "select horizon from " ~ prune_log ~ " where pruned_as_of = " ~ as_of_sql
    ).columns[0].values() -%}
    {%- for logged_horizon in logged
        if logged_horizon is none or (logged_horizon | string) < horizon -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: retention as of " ~ as_of_date ~ " was applied with the "
            ~ "horizon " ~ logged_horizon ~ "; retention_days=" ~ days ~ " (horizon "
            ~ horizon ~ ") reaches further. Nothing was removed: prune as of a later day."
        ) }}
    {%- endfor -%}
    {%- set raw_conversions = source('collector', 'conversions') -%}
    {%- set no_click_and_old = "converted_at < " ~ horizon_ts ~ " and tracking_id not in "
        ~ "(select tracking_id from " ~ source('collector', 'clicks') ~ ")" -%}
    {%- set conversion_goes = is_pruned ~ " or (" ~ no_click_and_old ~ ")" -%}
    {%- if not logged -%}
        {%- call statement('record_prune_started') -%}
            insert into {{ prune_started }}
            select {{ as_of_sql }} as pruned_as_of
        {%- endcall -%}
        {{ prune_checkpoint('record ' ~ prune_started, fail_after) }}
        {%- call statement('record_pruned_tracking_ids') -%}
            insert into {{ pruned_ids }}
            select
                tracking_id,
                campaign_link_id,
                cast(clicked_at as date) as clicked_on,
                {{ as_of_sql }} as pruned_as_of
            from {{ clicks }}
            where clicked_at < {{ horizon_ts }}
                and tracking_id not in (select tracking_id from {{ pruned_ids }})
        {%- endcall -%}
        {{ prune_checkpoint('record ' ~ pruned_ids, fail_after) }}
        {%- set converting_clicks = ref('int_converting_clicks') -%}
        {%- if _relation_exists(converting_clicks) -%}
            {%- call statement('record_pruned_converting_clicks') -%}
                insert into {{ pruned_converting }}
                select
                    tracking_id,
                    campaign_link_id,
                    {{ as_of_sql }} as pruned_as_of
                from {{ converting_clicks }}
                where {{ pruned_now }}
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_converting, fail_after) }}
        {%- endif -%}
        {%- set fct_clicks = ref('fct_clicks') -%}
        {%- set fct_conversions = ref('fct_conversions') -%}
        {%- if _relation_exists(fct_clicks) and _relation_exists(fct_conversions) -%}
            {%- call statement('record_pruned_daily_link_metrics') -%}
                insert into {{ pruned_metrics }}
                with
                pruned_clicks as (
                    select * from {{ fct_clicks }} where {{ pruned_now }}
                ),
                pruned_conversions as (
                    select * from {{ fct_conversions }} where {{ pruned_now }}
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
                    {{ as_of_sql }} as pruned_as_of
                from contributions
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_metrics, fail_after) }}
            {%- call statement('record_pruned_order_ids') -%}
                insert into {{ pruned_orders }}
                select distinct
                    order_id,
                    {{ as_of_sql }} as pruned_as_of
                from {{ fct_conversions }}
                where {{ pruned_now }}
                    and event_type = 'purchase'
                    and order_id is not null
                    and order_id not in (select order_id from {{ pruned_orders }})
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_orders, fail_after) }}
            {{ record_pruned_order_facts(
                pruned_order_facts, fct_conversions, pruned_now, as_of_sql, fail_after
            ) }}
        {%- endif -%}
        {#- The credits and touches of every conversion one of whose touches (any: it
            would turn click_pruned; its own when it goes) is a tracking id this prune
            takes, not recorded before: summed, then their event ids. -#}
        {%- set credits = ref('int_attribution_credits') -%}
        {%- set touches = ref('int_conversion_touches') -%}
        {%- if _relation_exists(credits) and _relation_exists(touches) -%}
            {%- set credits_recorded_now = "event_id in (select event_id from " ~ touches
                ~ " where touch_tracking_id in (select tracking_id from " ~ pruned_ids
                ~ " where pruned_as_of = " ~ as_of_sql ~ ")) and event_id not in "
                ~ "(select event_id from " ~ pruned_credited ~ ")" -%}
            {%- call statement('record_pruned_attribution_credits') -%}
                insert into {{ pruned_credits }}
                select
                    touch_campaign_link_id as campaign_link_id,
                    event_type,
                    attribution_model,
                    cast(sum(credited_conversions) as decimal(18, 6)) as credited_conversions,
                    cast(sum(coalesce(credited_revenue, 0)) as decimal(18, 2)) as credited_revenue,
                    {{ as_of_sql }} as pruned_as_of
                from {{ credits }}
                where {{ credits_recorded_now }}
                group by touch_campaign_link_id, event_type, attribution_model
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_credits, fail_after) }}
            {#- Before their event ids, which credits_recorded_now reads. -#}
            {{ record_pruned_purchase_credits(
                pruned_purchase_credits, credits, credits_recorded_now, as_of_sql, fail_after
            ) }}
            {%- call statement('record_pruned_touch_verification') -%}
                insert into {{ pruned_touches }}
                select
                    touch_campaign_link_id as campaign_link_id,
                    touch_status,
                    cast(count(*) as {{ dbt.type_bigint() }}) as touches,
                    cast(count(distinct event_id) as {{ dbt.type_bigint() }}) as conversions,
                    {{ as_of_sql }} as pruned_as_of
                from {{ touches }}
                where {{ credits_recorded_now }}
                group by touch_campaign_link_id, touch_status
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_touches, fail_after) }}
            {%- call statement('record_pruned_credited_event_ids') -%}
                insert into {{ pruned_credited }}
                select distinct
                    event_id,
                    {{ as_of_sql }} as pruned_as_of
                from {{ touches }}
                where {{ credits_recorded_now }}
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_credited, fail_after) }}
        {%- endif -%}
        {{ record_pruned_window_sensitivity(pruned_windows, pruned_window_orders,
            pruned_conversions, pruned_now, as_of_sql, fail_after) }}
        {#- "No click" is judged on the raw clicks, before any goes. -#}
        {%- if _relation_exists(raw_conversions) -%}
            {%- call statement('record_pruned_conversion_ids') -%}
                insert into {{ pruned_conversions }}
                select distinct
                    event_id,
                    {{ as_of_sql }} as pruned_as_of
                from {{ raw_conversions }}
                where ({{ pruned_now }} or ({{ no_click_and_old }}))
                    and event_id not in (select event_id from {{ pruned_conversions }})
            {%- endcall -%}
            {{ prune_checkpoint('record ' ~ pruned_conversions, fail_after) }}
        {%- endif -%}
        {%- call statement('record_prune') -%}
            insert into {{ prune_log }}
            select
                {{ as_of_sql }} as pruned_as_of,
                {{ days }} as retention_days,
                cast('{{ horizon }}' as date) as horizon
        {%- endcall -%}
        {{ prune_checkpoint('record ' ~ prune_log, fail_after) }}
    {%- endif -%}

    {#- 3. Remove the rows of every recorded tracking id (those of earlier prunes too: one
        that stopped part-way is finished here), and conversions before the horizon
        without a click. Removing is idempotent; conversions first: "no click" is judged
        on the raw clicks still there. The raw tables only where they are the
        warehouse's copy (raw_rows_removed_by_prune). -#}
    {%- set is_removed_conversion = "event_id in (select event_id from "
        ~ pruned_conversions ~ ")" -%}
    {%- set removals = [] -%}
    {%- if raw_rows_removed_by_prune() -%}
        {%- do removals.append((raw_conversions, conversion_goes)) -%}
        {%- do removals.append((source('collector', 'clicks'), is_pruned)) -%}
    {%- endif -%}
    {%- do removals.extend([
        (ref('stg_collector__conversions'), is_removed_conversion),
        (ref('stg_collector__clicks'), is_pruned),
        (ref('int_conversions_matched_to_clicks'),
            is_pruned ~ " or (converted_at < " ~ horizon_ts ~ " and clicked_at is null)"),
        (clicks, is_pruned),
        (ref('fct_conversions'), is_pruned),
        (ref('fct_unattributed_conversions'),
            is_pruned ~ " or (converted_at < " ~ horizon_ts ~ " and clicked_at is null)"),
        (ref('int_conversion_touches'), is_removed_conversion),
        (ref('int_attribution_credits'), is_removed_conversion),
        (ref('fct_clicks'), is_pruned),
        (ref('mart_attribution'), is_pruned),
    ]) -%}
    {%- for relation, condition in removals if _is_table(relation) -%}
        {%- set doomed = run_query("select count(*) from " ~ relation ~ " where " ~ condition) -%}
        {%- set doomed = doomed.columns[0].values()[0] -%}
        {%- if doomed > 0 -%}
            {{ delete_rows(relation, condition, 'remove ' ~ relation.identifier, fail_after) }}
        {%- else -%}
            {{ prune_checkpoint('remove ' ~ relation.identifier, fail_after) }}
        {%- endif -%}
        {{ log("prune_row_level_data: " ~ doomed ~ " rows of " ~ relation
            ~ " removed (click before " ~ horizon ~ ")", info=true) }}
    {%- endfor -%}

    {#- 4. The published marts say from when on clicks are kept, from this prune on (the
        next build reads it from the prune log). -#}
    {%- set meta = ref('_meta') -%}
    {%- if _relation_exists(meta)
        and 'retained_since' in adapter.get_columns_in_relation(meta) | map(attribute='name') | list -%}
        {%- set horizon_date = "cast('" ~ horizon ~ "' as date)" -%}
        {{ set_column(
            meta, 'retained_since', horizon_date,
            'retained_since is null or retained_since < ' ~ horizon_date,
            'record retained_since', fail_after
        ) }}
    {%- endif -%}
    {%- do adapter.commit() -%}
    {%- if fail_after is not none -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: fail_after='" ~ fail_after ~ "' names no step of this prune"
        ) }}
    {%- endif -%}
{% endmacro %}

{#- Whether the prune removes rows from the raw tables: on DuckDB they are the
    warehouse's own copy (orchestration/assets/ingest.py); on Spark they are the files in
    data/raw, read in place, which the prune job's prune_raw_files removes by day and
    the models keep pruned rows out of meanwhile (the retention tables). -#}
{% macro raw_rows_removed_by_prune() -%}
    {{ return(adapter.dispatch('raw_rows_removed_by_prune', 'convtrack')()) }}
{%- endmacro %}

{% macro default__raw_rows_removed_by_prune() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__raw_rows_removed_by_prune() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro _relation(name) -%}
    {%- set schema, identifier = name.split('.') -%}
    {{ return(api.Relation.create(schema=schema, identifier=identifier)) }}
{%- endmacro %}

{#- A table, not a view (a view holds no rows to remove). -#}
{% macro _is_table(relation) -%}
    {%- set found = _found_relation(relation) -%}
    {{ return(found is not none and found.type == 'table') }}
{%- endmacro %}

{% macro _relation_exists(relation) -%}
    {{ return(_found_relation(relation) is not none) }}
{%- endmacro %}

{#- The warehouse's relation of that name, or none. -#}
{% macro _found_relation(relation) -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    )) }}
{%- endmacro %}
