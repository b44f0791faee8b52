-- Each credited purchase's per-touch revenue credits under every model, as a refund of
-- its order is split by them (docs/rules.md#refunds): int_attribution_credits, except
-- for the purchases a prune touched, whose credits are kept as the prune recorded them
-- (as mart_attribution_models counts them).

with

credits as (

    select * from {{ ref('int_attribution_credits') }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_purchase_credits') }}

),

pruned_event_ids as (

    select distinct event_id from pruned

),

live as (

    select
        credits.event_id,
        credits.attribution_model,
        credits.touch_position,
        credits.touch_campaign_link_id,
        credits.credited_revenue
    from credits
    left join pruned_event_ids
        on credits.event_id = pruned_event_ids.event_id
    where
        credits.event_type = 'purchase'
        and pruned_event_ids.event_id is null

),

final as (

    select
        event_id as purchase_event_id,
        attribution_model,
        touch_position,
        touch_campaign_link_id,
        cast(credited_revenue as decimal(10, 2)) as credited_revenue
    from live
    union all
    select
        event_id as purchase_event_id,
        attribution_model,
        touch_position,
        touch_campaign_link_id,
        credited_revenue
    from pruned

)

select * from final
