-- Per campaign link and window: the last-click conversions and revenue the link would
-- have under attribution windows of var('sensitivity_windows_days') and its own
-- (docs/rules.md#window-sensitivity) - for negotiating windows with sponsors.
-- A conversion counts under a window when its own click passes the verdict
-- (macros/click_verdict.sql) with that window; everything else about the last-click
-- rule stays: its click exists, is on its link and not after it beyond the skew, and an
-- order counts once (the first counted copy under that window). The rule is
-- macros/marts/window_sensitivity.sql.
-- Over the link's whole life: the conversions still held, plus what pruning recorded
-- each removed conversion counted under each window before it went, so a prune changes
-- no number here.

with

links as (

    select * from {{ ref('dim_campaign_links') }}

),

pruned_conversion_ids as (

    select * from {{ ref('stg_retention__pruned_conversion_ids') }}

),

-- A conversion a prune removed counts by what it recorded, wherever a row of it is left.
matched as (

    select conversions.*
    from {{ ref('int_conversions_matched_to_clicks') }} as conversions
    left join pruned_conversion_ids
        on conversions.event_id = pruned_conversion_ids.event_id
    where pruned_conversion_ids.event_id is null

),

pruned_window_order_ids as (

    select * from {{ ref('stg_retention__pruned_window_order_ids') }}

),

pruned_window_sensitivity as (

    select * from {{ ref('stg_retention__pruned_window_sensitivity') }}

),

-- A link whose own window is one of the list has one row for it.
windows as (

    {{ sensitivity_windows('links') }}

),

{{ sensitivity_counted_ctes('windows', 'matched', 'pruned_window_order_ids') }},

unioned as (

    select
        campaign_link_id,
        window_days,
        1 as conversions,
        coalesce(revenue_amount, 0) as revenue
    from sensitivity_counted
    union all
    select
        campaign_link_id,
        window_days,
        conversions,
        revenue
    from pruned_window_sensitivity

),

per_link_and_window as (

    select
        campaign_link_id,
        window_days,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from unioned
    group by campaign_link_id, window_days

),

final as (

    select
        windows.campaign_link_id,
        windows.window_days,
        windows.is_link_window,
        cast(
            coalesce(per_link_and_window.conversions, 0) as {{ dbt.type_bigint() }}
        ) as conversions,
        cast(coalesce(per_link_and_window.revenue, 0) as decimal(18, 2)) as revenue
    from windows
    left join per_link_and_window
        on
            windows.campaign_link_id = per_link_and_window.campaign_link_id
            and windows.window_days = per_link_and_window.window_days

)

select * from final
