-- One row per tracking_id: its click, what it converted into, and whether its window is
-- still open at the end of the as_of day (the read API's attribution lookup).

{%- set as_of_ts = "cast('" ~ run_var('as_of') ~ "' as " ~ dbt.type_timestamp() ~ ")" %}

{#- Incremental: the tracking ids a run can change are rebuilt - a click of a reloaded
    day, a conversion in the recompute range (attributed or not: one may have left
    fct_conversions), and every click whose window may be open as of now (clicked in the
    recompute range: an older one's window closed before start_date, so before as_of). -#}

-- depends_on: {{ ref('stg_collector__clicks') }}
-- depends_on: {{ ref('int_conversions_matched_to_clicks') }}

{{ config(**incremental_config()) }}
{{ config(
    unique_key='tracking_id',
    pre_hook="{{ delete_rebuilt_attribution() }}",
) }}

with

clicks as (

    select * from {{ ref('int_clicks_per_tracking_id') }}
    {% if is_incremental() -%}
        where tracking_id in ({{ rebuilt_attribution_ids() }})
    {%- endif %}

),

link_windows as (

    select * from {{ ref('int_campaign_link_windows') }}

),

conversions as (

    select * from {{ ref('fct_conversions') }}
    {% if is_incremental() -%}
        where tracking_id in (select clicks.tracking_id from clicks)
    {%- endif %}

),

conversions_per_tracking_id as (

    select
        tracking_id,
        count(*) as conversions,
        sum(coalesce(revenue_amount, 0)) as revenue,
        min(converted_at) as first_converted_at,
        max(converted_at) as last_converted_at
    from conversions
    group by tracking_id

),

windowed as (

    select
        clicks.tracking_id,
        clicks.campaign_link_id,
        clicks.clicked_at,
        clicks.is_bot,
        coalesce(conversions_per_tracking_id.conversions, 0) as conversions,
        cast(coalesce(conversions_per_tracking_id.revenue, 0) as decimal(18, 2)) as revenue,
        conversions_per_tracking_id.first_converted_at,
        conversions_per_tracking_id.last_converted_at,
        -- The first instant at which floor(elapsed / 1 day) exceeds the window: the
        -- window of the click's link, in the version current at the click.
        {{ add_days(
            'clicks.clicked_at',
            link_window_days('link_windows.attribution_window_days') ~ ' + 1',
        ) }} as window_ends_at
    from clicks
    left join conversions_per_tracking_id
        on clicks.tracking_id = conversions_per_tracking_id.tracking_id
    left join link_windows
        on {{ at_click_version('link_windows', 'clicks.campaign_link_id', 'clicks.clicked_at') }}

),

final as (

    select
        *,
        -- As of the end of the as_of day, i.e. the next midnight UTC.
        window_ends_at > {{ add_days(as_of_ts, 1) }} as is_window_open
    from windowed

)

{{ incremental_rows('final', 'clicked_at') }}
