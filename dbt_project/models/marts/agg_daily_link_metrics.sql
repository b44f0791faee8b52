-- Clicks and attributed conversions per reporting day, link and event type: the history
-- that pruning must never change. Clicks count on their click day, conversions on their
-- conversion day, both as calendar days in var('reporting_timezone').
-- Incremental over days: each run deletes and recomputes every day from var('start_date')
-- minus the lookback, from the row-level facts plus what pruned rows had contributed to
-- those days - so a recompute after pruning gives the same totals as before it.
-- full_refresh=false: `dbt build --full-refresh` keeps this table (the history).

{{ config(**incremental_config()) }}
{{ config(
    unique_key=['metric_date', 'campaign_link_id', 'event_type'],
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_recompute_range('metric_date', kind='date') }}",
) }}

{#- A reporting day starts at most a day away from 00:00 UTC: the facts are read from a
    day before the first recomputed day (add_days(t, 1) >= first day), then only whole
    recomputed days are kept. -#}

with

clicks as (

    select * from {{ ref('fct_clicks') }}
    {% if is_incremental() -%}
        where {{ in_recompute_range(add_days('clicked_at', 1)) }}
    {%- endif %}

),

conversions as (

    select * from {{ ref('fct_conversions') }}
    {% if is_incremental() -%}
        where {{ in_recompute_range(add_days('converted_at', 1)) }}
    {%- endif %}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_daily_link_metrics') }}

),

unioned as (

    {{ daily_link_metrics('clicks', 'conversions') }}
    union all
    select
        metric_date,
        campaign_link_id,
        event_type,
        clicks,
        bot_clicks,
        conversions,
        revenue
    from pruned

),

summed as (

    select
        metric_date,
        campaign_link_id,
        event_type,
        sum(clicks) as clicks,
        sum(bot_clicks) as bot_clicks,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from unioned
    group by 1, 2, 3

),

final as (

    select
        metric_date,
        campaign_link_id,
        event_type,
        cast(clicks as bigint) as clicks,
        cast(bot_clicks as bigint) as bot_clicks,
        cast(conversions as bigint) as conversions,
        cast(revenue as decimal(18, 2)) as revenue
    from summed
    {% if is_incremental() -%}
        where {{ in_recompute_range('metric_date', kind='date') }}
    {%- endif %}

)

{{ incremental_rows('final', 'metric_date', kind='date') }}
