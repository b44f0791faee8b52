-- Per campaign link and window: the last-click conversions and revenue the link would
-- have under attribution windows of var('sensitivity_windows_days') and its own
-- (docs/rules.md#window-sensitivity) - for negotiating windows with sponsors.
-- A conversion counts under a window when its own click passes the verdict
-- (macros/click_verdict.sql) with that window; everything else about the last-click
-- rule stays: its click exists, is on its link and not after it beyond the skew, and an
-- order counts once (the first counted copy under that window).
-- Built from the conversions whose click retention keeps: a window's count of a pruned
-- click cannot be recomputed, so this mart covers the kept clicks, not a lifetime.

{%- set windows = var('sensitivity_windows_days') %}

with

links as (

    select * from {{ ref('dim_campaign_links') }}

),

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

pruned_orders as (

    select * from {{ ref('stg_retention__pruned_order_ids') }}

),

windows_per_link as (

    {% for window_days in windows -%}
        select
            campaign_link_id,
            {{ window_days | int }} as window_days,
            {{ window_days | int }} = {{ link_window_days('attribution_window_days') }}
                as is_link_window
        from links
        union all
    {% endfor -%}
    select
        campaign_link_id,
        {{ link_window_days('attribution_window_days') }} as window_days,
        true as is_link_window
    from links

),

-- A link whose own window is one of the list has one row for it.
windows as (

    select distinct
        campaign_link_id,
        window_days,
        is_link_window
    from windows_per_link

),

-- The conversions whose verdict turns on the window alone: every other reason a
-- conversion is not credited holds whatever the window.
judgeable as (

    select
        event_id,
        campaign_link_id,
        event_type,
        revenue_amount,
        order_id,
        converted_at,
        received_at,
        clicked_at,
        {{ epoch_us('converted_at') }} - {{ epoch_us('clicked_at') }} as elapsed_us
    from matched
    where attribution_status in ('attributed', 'window_expired', 'duplicate_order')

),

judged as (

    select
        windows.campaign_link_id,
        windows.window_days,
        judgeable.event_id,
        judgeable.event_type,
        judgeable.revenue_amount,
        judgeable.order_id,
        judgeable.converted_at,
        judgeable.received_at,
        {{ click_verdict(
            'judgeable.clicked_at', 'false', 'judgeable.campaign_link_id',
            'judgeable.campaign_link_id', 'judgeable.elapsed_us', 'passed',
            'windows.window_days',
        ) }} as verdict
    from windows
    inner join judgeable
        on windows.campaign_link_id = judgeable.campaign_link_id

),

passing as (

    select
        judged.*,
        coalesce(judged.event_type = 'purchase' and judged.order_id is not null, false)
            as is_order_purchase,
        pruned_orders.order_id is not null as is_order_counted_before
    from judged
    left join pruned_orders
        on judged.order_id = pruned_orders.order_id
    where judged.verdict = 'passed'

),

orders_ranked as (

    select
        *,
        row_number() over (
            partition by window_days, order_id, is_order_purchase
            order by {{ order_copies_first_counted() }}
        ) as order_rank
    from passing

),

counted as (

    select * from orders_ranked
    where not (is_order_purchase and (order_rank > 1 or is_order_counted_before))

),

per_link_and_window as (

    select
        campaign_link_id,
        window_days,
        count(*) as conversions,
        sum(coalesce(revenue_amount, 0)) as revenue
    from counted
    group by campaign_link_id, window_days

),

final as (

    select
        windows.campaign_link_id,
        windows.window_days,
        windows.is_link_window,
        coalesce(per_link_and_window.conversions, 0) as conversions,
        cast(coalesce(per_link_and_window.revenue, 0) as decimal(18, 2)) as revenue
    from windows
    left join per_link_and_window
        on
            windows.campaign_link_id = per_link_and_window.campaign_link_id
            and windows.window_days = per_link_and_window.window_days

)

select * from final
