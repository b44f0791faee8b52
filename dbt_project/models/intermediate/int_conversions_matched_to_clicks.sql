-- Every conversion with the click it claims (same tracking_id) and its verdict:
-- 'attributed' or the reason it is not.

{%- set skew_us = (var('clock_skew_minutes') | int) * 60 * 1000000 %}
{%- set day_us = 86400 * 1000000 %}

with

conversions as (

    select * from {{ ref('stg_collector__conversions') }}

),

clicks as (

    select * from {{ ref('int_clicks_per_tracking_id') }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_tracking_ids') }}

),

link_windows as (

    select * from {{ ref('int_campaign_link_windows') }}

),

pruned_conversions as (

    select * from {{ ref('stg_retention__pruned_conversion_ids') }}

),

pruned_orders as (

    select * from {{ ref('stg_retention__pruned_order_ids') }}

),

kept_conversions as (

    -- A conversion retention removed stays removed, even when the next run loads a copy
    -- again from a raw day partition that retention keeps (a late conversion of an old
    -- click): it was judged, and counted in the history, before the prune.
    select conversions.*
    from conversions
    left join pruned_conversions
        on conversions.event_id = pruned_conversions.event_id
    where pruned_conversions.event_id is null

),

joined as (

    select
        kept_conversions.*,
        clicks.campaign_link_id as click_campaign_link_id,
        clicks.clicked_at,
        clicks.is_bot as click_is_bot,
        pruned.tracking_id is not null as is_click_pruned,
        link_windows.attribution_window_days as click_window_days,
        {{ epoch_us('kept_conversions.converted_at') }}
        - {{ epoch_us('clicks.clicked_at') }} as elapsed_us
    from kept_conversions
    left join clicks
        on kept_conversions.tracking_id = clicks.tracking_id
    left join pruned
        on kept_conversions.tracking_id = pruned.tracking_id
    left join link_windows
        on {{ at_click_version('link_windows', 'clicks.campaign_link_id', 'clicks.clicked_at') }}

),

aged as (

    select
        *,
        -- A conversion stamped a few minutes before its click is clock skew, not a
        -- conversion before the click: it counts as day 0.
        case
            when elapsed_us < 0 and elapsed_us >= -{{ skew_us }} then 0
            else cast(floor(elapsed_us / {{ day_us }}) as bigint)
        end as days_since_click
    from joined

),

judged as (

    select
        *,
        {{ click_verdict(
            'clicked_at', 'is_click_pruned', 'campaign_link_id', 'click_campaign_link_id',
            'elapsed_us', 'attributed', 'click_window_days',
        ) }} as window_status
    from aged

),

order_candidates as (

    select
        judged.*,
        -- Only purchases otherwise attributed compete for an order: an expired copy of
        -- an order must not take the credit from the one that counts.
        coalesce(
            judged.event_type = 'purchase'
            and judged.order_id is not null
            and judged.window_status = 'attributed',
            false
        ) as is_order_candidate,
        -- The copy that counted was removed by retention: the order stays counted.
        pruned_orders.order_id is not null as is_order_counted_before
    from judged
    left join pruned_orders
        on judged.order_id = pruned_orders.order_id

),

orders_ranked as (

    select
        *,
        row_number() over (
            partition by order_id, is_order_candidate
            order by {{ order_copies_first_counted() }}
        ) as order_rank
    from order_candidates

),

final as (

    select
        event_id,
        tracking_id,
        campaign_link_id,
        event_type,
        revenue_amount,
        currency,
        order_id,
        event_data,
        converted_at,
        received_at,
        source,
        clicked_at,
        click_is_bot,
        days_since_click,
        case
            when
                is_order_candidate and (order_rank > 1 or is_order_counted_before)
                then 'duplicate_order'
            else window_status
        end as attribution_status
    from orders_ranked

)

select * from final
