-- The credited purchase of every order (docs/rules.md#refunds): the purchase with that
-- order_id the last-click rule attributed (one per order: later copies are
-- duplicate_order), with the few facts a refund needs. Those whose purchase retention
-- removed come from what the prune recorded, so a refund finds them as before.

with

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_order_facts') }}

),

live as (

    select
        matched.order_id,
        matched.event_id,
        matched.campaign_link_id,
        matched.converted_at,
        matched.revenue_amount
    from matched
    left join pruned
        on matched.event_id = pruned.event_id
    -- A purchase recorded by a prune whose removals have not run yet (a Spark prune
    -- stopped part-way) is counted once, from the record.
    where
        matched.attribution_status = 'attributed'
        and matched.event_type = 'purchase'
        and matched.order_id is not null
        and pruned.event_id is null

),

final as (

    select
        order_id,
        event_id as purchase_event_id,
        campaign_link_id,
        converted_at,
        revenue_amount
    from live
    union all
    select
        order_id,
        event_id as purchase_event_id,
        campaign_link_id,
        converted_at,
        revenue_amount
    from pruned

)

select * from final
