-- The refund ledger: one row per refund event of which some part is not credited, that
-- part and why (docs/rules.md#refunds): order_not_credited (no credited purchase with its
-- order_id), before_purchase (earlier than the purchase beyond the clock-skew allowance),
-- exceeds_order_revenue (beyond what the order's earlier refunds left of its revenue).
-- A refund that crosses its order's revenue is in fct_refunds with the part up to it and
-- here with the rest. Rebuilt from every refund each run, like fct_refunds.

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
        judged.uncredited_amount,
        judged.reason,
        judged.currency,
        judged.merchant_reason,
        judged.refunded_at,
        judged.received_at,
        judged.source,
        judged.campaign_link_id,
        links.youtube_video_id,
        judged.purchase_event_id,
        judged.converted_at,
        judged.order_revenue
    from judged
    left join links
        on judged.campaign_link_id = links.campaign_link_id
    where judged.uncredited_amount > 0

)

select * from final
