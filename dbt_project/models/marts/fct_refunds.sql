-- Credited refunds: one row per refund event of which some part is credited against its
-- order's purchase (docs/rules.md#refunds), with the purchase's link, video and time.
-- The part not credited is in fct_unattributed_refunds. Rebuilt from every refund each
-- run (refunds are few and kept forever): a purchase attributed late credits the earlier
-- refunds of its order on the next run. Built from what retention keeps (the order facts
-- a prune records), so a prune changes no row here.

with

judged as (

    select * from {{ ref('int_refunds_judged') }}

),

links as (

    select * from {{ ref('dim_campaign_links') }}

),

final as (

    select
        judged.event_id,
        judged.order_id,
        judged.amount,
        judged.credited_amount,
        judged.currency,
        judged.merchant_reason,
        judged.refunded_at,
        judged.received_at,
        judged.source,
        judged.campaign_link_id,
        links.youtube_video_id,
        judged.purchase_event_id,
        judged.converted_at,
        judged.order_revenue,
        judged.credited_through as order_refunded_through
    from judged
    left join links
        on judged.campaign_link_id = links.campaign_link_id
    where judged.credited_amount > 0

)

select * from final
