-- The ledger of conversions that earned no credit, each with its reason, so nothing the
-- landing pages reported disappears silently.

with

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

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
        days_since_click,
        attribution_status as reason
    from matched
    where attribution_status != 'attributed'

)

select * from final
