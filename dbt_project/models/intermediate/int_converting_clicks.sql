-- One row per human converting click: a tracking id whose click is not a bot's and that
-- has at least one attributed conversion. The funnel counts these per link; pruning
-- remembers the ones it removes (stg_retention__pruned_converting_clicks), since a count
-- of distinct clicks cannot be summed from daily totals.
-- A view: each of its two readers runs it once, and writing it out would cost more.

{{ config(materialized='view') }}

with

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

final as (

    -- A conversion through a bot-flagged click still counts (the revenue is real), but
    -- that click is not a human converting click.
    select
        tracking_id,
        campaign_link_id,
        count(*) as conversions
    from matched
    where
        attribution_status = 'attributed'
        and not click_is_bot
    group by tracking_id, campaign_link_id

)

select * from final
