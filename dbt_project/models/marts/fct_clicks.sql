-- Click events at row level (with IP and user agent, so subject to retention).

with

clicks as (

    select * from {{ ref('stg_collector__clicks') }}

),

final as (

    select
        event_id,
        tracking_id,
        campaign_link_id,
        clicked_at,
        received_at,
        ip_address,
        user_agent,
        referrer,
        source,
        is_bot
    from clicks

)

select * from final
