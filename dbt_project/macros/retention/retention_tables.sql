{#- The `retention` schema: what pruning leaves behind so that nothing it removes changes
    an answer. Not published (publish copies `marts` only), and no IP, user agent or event
    data in it.
    - pruned_tracking_ids: tracking ids whose click was pruned, with link and click day,
      so a conversion arriving later is `click_pruned`, not `no_click`, and a re-loaded
      copy of a pruned click never comes back.
    - pruned_daily_link_metrics: what the pruned rows contributed to
      agg_daily_link_metrics, in its grain, so recomputing any day gives the same totals
      after pruning as before.
    - pruned_converting_clicks: the pruned tracking ids that were human converting clicks
      (a click, not from a bot, with an attributed conversion), with their link, so the
      funnel's converting clicks - distinct clicks, not a sum over days - keep counting them.
    - pruned_attribution_credits, pruned_credited_event_ids: the credits
      (int_attribution_credits) of every conversion the prune touched - it goes, or one of
      its touches loses its click: a verified one would shift its credits to the touches
      left, any would turn click_pruned - summed per link x event type x model, and those
      conversions' event ids, so mart_attribution_models counts them as they were and the
      live credits of the conversions that stay count no more (docs/rules.md#retention).
    - pruned_touch_verification: the touches (int_conversion_touches) of those same
      conversions, counted per link named x touch_status, with how many conversions had
      such a touch, so mart_touch_verification counts them as they were.
    - pruned_window_sensitivity, pruned_window_order_ids: what the conversions a prune
      removes counted for their link under each window of mart_window_sensitivity, summed
      per link x window, and the orders they counted under each window, so the mart
      counts them as they were and no other copy of those orders counts there again.
    - pruned_order_facts: the credited purchases (with an order id) a prune removed, with
      the few facts a refund of the order needs - order id, purchase event id, link,
      conversion time, revenue - so a refund arriving after its purchase's click was
      pruned still counts against the right link and day (docs/rules.md#refunds).
    - pruned_purchase_credits: the per-touch credits of the credited purchases a prune
      touched (those of pruned_credited_event_ids that are purchases), as they were: a
      refund is split by them under every model. No tracking ids.
    - pruned_conversion_ids: event ids of the conversions pruning removed, so a copy
      re-loaded from a raw file retention keeps (a late conversion of an old click lives in
      a later day partition) stays out, rather than coming back as click_pruned.
    - pruned_order_ids: order ids of the attributed purchases pruning removed, so a copy
      of such an order under a kept click stays a duplicate_order: the order was counted.
    - prune_log: one row per prune, with the horizon it applied; the marts say from which
      day on clicks are kept (_meta.retained_since).
    Created by on-run-start (the models read them as sources) and by the prune itself. A
    warehouse pruned before a table existed gets it empty: `create table if not exists`
    adds what is missing and never touches what is there.
    - prune_started: the as_of of every prune that started recording. One started and
      not in prune_log stopped part-way: its records count nowhere (finished_prunes_only)
      and the next prune discards them (macros/retention/prune_row_level_data.sql). A
      warehouse pruned before this table existed has none: every prune of it finished
      (they ran in one transaction). -#}
{% macro create_retention_tables() -%}
    {{ return(adapter.dispatch('create_retention_tables', 'convtrack')()) }}
{%- endmacro %}

{% macro default__create_retention_tables() -%}
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
    create table if not exists {{ retention_schema() }}.pruned_attribution_credits (
        campaign_link_id {{ dbt.type_string() }},
        event_type {{ dbt.type_string() }},
        attribution_model {{ dbt.type_string() }},
        credited_conversions decimal(18, 6),
        credited_revenue decimal(18, 2),
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_touch_verification (
        campaign_link_id {{ dbt.type_string() }},
        touch_status {{ dbt.type_string() }},
        touches {{ dbt.type_bigint() }},
        conversions {{ dbt.type_bigint() }},
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_window_sensitivity (
        campaign_link_id {{ dbt.type_string() }},
        window_days int,
        conversions {{ dbt.type_bigint() }},
        revenue decimal(18, 2),
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_window_order_ids (
        order_id {{ dbt.type_string() }},
        window_days int,
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_credited_event_ids (
        event_id {{ dbt.type_string() }},
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_order_facts (
        order_id {{ dbt.type_string() }},
        event_id {{ dbt.type_string() }},
        campaign_link_id {{ dbt.type_string() }},
        converted_at {{ dbt.type_timestamp() }},
        revenue_amount decimal(10, 2),
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_purchase_credits (
        event_id {{ dbt.type_string() }},
        attribution_model {{ dbt.type_string() }},
        touch_position int,
        touch_campaign_link_id {{ dbt.type_string() }},
        credited_revenue decimal(10, 2),
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_converting_clicks (
        tracking_id {{ dbt.type_string() }},
        campaign_link_id {{ dbt.type_string() }},
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_conversion_ids (
        event_id {{ dbt.type_string() }},
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.pruned_order_ids (
        order_id {{ dbt.type_string() }},
        pruned_as_of date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.prune_log (
        pruned_as_of date,
        retention_days int,
        horizon date
    ) {{ retention_table_options() }};
    create table if not exists {{ retention_schema() }}.prune_started (
        pruned_as_of date
    ) {{ retention_table_options() }};
{%- endmacro %}

{#- The as_of of every prune that started recording and did not finish: `started` and
    `log` name the prune_started and prune_log tables. -#}
{% macro unfinished_prunes(started, log) -%}
    select started.pruned_as_of
    from {{ started }} as started
    where started.pruned_as_of not in (select finished.pruned_as_of from {{ log }} as finished)
{%- endmacro %}

{#- The rows of a retention table that finished prunes recorded (the models read only
    those). -#}
{% macro finished_prunes_only(relation) -%}
    select *
    from {{ relation }}
    where pruned_as_of not in (
        {{ unfinished_prunes(source('retention', 'prune_started'), source('retention', 'prune_log')) }}
    )
{%- endmacro %}

{#- Spark SQL runs one statement per call: each statement of the script is run here, and
    the hook or statement that called this has nothing left to run. -#}
{% macro spark__create_retention_tables() -%}
    {%- if execute -%}
        {%- for sql in default__create_retention_tables().split(';') if sql.strip() -%}
            {%- do run_query(sql) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro retention_schema() -%}
    {{ return('retention') }}
{%- endmacro %}

{#- Plain Parquet on Spark: Delta and Iceberg are out of reach here. Pruning rewrites
    tables instead of deleting rows (macros/retention/rewrite_rows.sql). -#}
{% macro retention_table_options() -%}
    {{ return(adapter.dispatch('retention_table_options', 'convtrack')()) }}
{%- endmacro %}

{% macro default__retention_table_options() -%}
{%- endmacro %}

{% macro spark__retention_table_options() -%}
    using parquet
{%- endmacro %}
