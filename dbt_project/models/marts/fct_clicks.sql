-- Click events at row level (with IP and user agent, so subject to retention).
-- Incremental: rebuilds the clicks of the days a run reloaded, from var('start_date') on
-- (macros/incremental/recompute_range.sql, no lookback: a click depends on nothing
-- else); a click retention pruned never comes back.

{{ config(**incremental_config()) }}
{{ config(
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('clicked_at', lookback=false) }}",
) }}

with

clicks as (

    select * from {{ ref('stg_collector__clicks') }}
    {% if is_incremental() -%}
        where {{ in_recompute_range('clicked_at', lookback=false) }}
    {%- endif %}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_tracking_ids') }}

),

final as (

    select
        clicks.event_id,
        clicks.tracking_id,
        clicks.campaign_link_id,
        clicks.clicked_at,
        clicks.received_at,
        clicks.ip_address,
        clicks.user_agent,
        clicks.referrer,
        clicks.source,
        clicks.is_bot
    from clicks
    left join pruned
        on clicks.tracking_id = pruned.tracking_id
    where pruned.tracking_id is null

)

{{ incremental_rows('final', 'clicked_at', lookback=false) }}
