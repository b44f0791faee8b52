-- Credited conversions and revenue per campaign link, conversion type and attribution
-- model (docs/rules.md#attribution-models), over the link's whole life: a credit goes to
-- the link of the touch it is given to. Built from what retention keeps, so a prune
-- changes no number here: the credits of the conversions no prune touched, plus the sums
-- pruning recorded for the ones it did (they went, or a touch lost its click). Refunds
-- under every model: each credited refund split by its purchase's credits
-- (int_refund_credits), so net revenue is credited revenue less them
-- (docs/rules.md#refunds).

with

credits as (

    select * from {{ ref('int_attribution_credits') }}

),

pruned_credits as (

    select * from {{ ref('stg_retention__pruned_attribution_credits') }}

),

pruned_credited_event_ids as (

    select * from {{ ref('stg_retention__pruned_credited_event_ids') }}

),

live_credits as (

    select credits.*
    from credits
    left join pruned_credited_event_ids
        on credits.event_id = pruned_credited_event_ids.event_id
    where pruned_credited_event_ids.event_id is null

),

refund_credits as (

    select * from {{ ref('int_refund_credits') }}

),

unioned as (

    select
        touch_campaign_link_id as campaign_link_id,
        event_type,
        attribution_model,
        credited_conversions,
        coalesce(credited_revenue, 0) as credited_revenue,
        cast(0 as decimal(10, 2)) as refunded_revenue
    from live_credits
    union all
    select
        campaign_link_id,
        event_type,
        attribution_model,
        credited_conversions,
        credited_revenue,
        cast(0 as decimal(10, 2)) as refunded_revenue
    from pruned_credits
    union all
    select
        touch_campaign_link_id as campaign_link_id,
        'purchase' as event_type,
        attribution_model,
        cast(0 as decimal(12, 6)) as credited_conversions,
        cast(0 as decimal(10, 2)) as credited_revenue,
        refunded_revenue
    from refund_credits

),

final as (

    select
        campaign_link_id,
        event_type,
        attribution_model,
        cast(sum(credited_conversions) as decimal(18, 6)) as credited_conversions,
        cast(sum(credited_revenue) as decimal(18, 2)) as credited_revenue,
        cast(sum(refunded_revenue) as decimal(18, 2)) as refunded_revenue,
        cast(sum(credited_revenue) - sum(refunded_revenue) as decimal(18, 2)) as net_revenue
    from unioned
    group by campaign_link_id, event_type, attribution_model

)

select * from final
