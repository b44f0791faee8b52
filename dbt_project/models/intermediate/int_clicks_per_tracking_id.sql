-- One click per tracking_id: the redirect mints a fresh tracking_id per click, but
-- imported history may repeat one, and then the earliest click is the one that counts.
-- A tracking id retention pruned stays pruned, even if a copy of its click is loaded
-- again: its conversions are click_pruned and the daily history is not counted twice.
-- Incremental: a run re-ranks only the tracking ids that have a click on a reloaded day
-- (from var('start_date') on), over all their clicks; the pre-hook first removes those
-- and every kept click of a reloaded day, whose tracking id may have lost it.

{{ config(**incremental_config()) }}
{{ config(
    unique_key='tracking_id',
    pre_hook="{{ delete_rebuilt_tracking_ids() }}",
) }}

with

clicks as (

    select * from {{ ref('stg_collector__clicks') }}
    {% if is_incremental() -%}
        where tracking_id in ({{ reloaded_tracking_ids() }})
    {%- endif %}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_tracking_ids') }}

),

ranked as (

    {{ first_row_per(
        'clicks', 'tracking_id', ['clicked_at', 'received_at', 'event_id'], 'click_rank'
    ) }}

),

final as (

    select
        ranked.tracking_id,
        ranked.event_id as click_event_id,
        ranked.campaign_link_id,
        ranked.clicked_at,
        ranked.is_bot
    from ranked
    left join pruned
        on ranked.tracking_id = pruned.tracking_id
    where
        ranked.click_rank = 1
        and pruned.tracking_id is null

)

{{ incremental_rows('final', 'clicked_at', lookback=false) }}
