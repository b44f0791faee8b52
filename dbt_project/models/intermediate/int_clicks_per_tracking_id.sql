-- One click per tracking_id: the redirect mints a fresh tracking_id per click, but
-- imported history may repeat one, and then the earliest click is the one that counts.

with

clicks as (

    select * from {{ ref('stg_collector__clicks') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by tracking_id
            order by clicked_at asc nulls last, received_at asc nulls last, event_id asc
        ) as click_rank
    from clicks

),

final as (

    select
        tracking_id,
        event_id as click_event_id,
        campaign_link_id,
        clicked_at,
        is_bot
    from ranked
    where click_rank = 1

)

select * from final
