-- Attributed conversions and revenue per campaign link and conversion type, over the
-- link's whole life: summed from the daily history, which retention never prunes. Gross
-- revenue (`revenue`), the refunds credited against the link's purchases (fct_refunds,
-- rebuilt from what retention keeps) and net revenue side by side (docs/rules.md#refunds).

with

daily as (

    select * from {{ ref('agg_daily_link_metrics') }}

),

refunds as (

    select * from {{ ref('fct_refunds') }}

),

refunds_per_link as (

    -- A refund takes back revenue of a purchase.
    select
        campaign_link_id,
        'purchase' as event_type,
        sum(credited_amount) as refunded_revenue
    from refunds
    group by campaign_link_id

),

per_link_and_type as (

    select
        campaign_link_id,
        event_type,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from daily
    where event_type != 'click'
    group by campaign_link_id, event_type

),

with_refunds as (

    select
        per_link_and_type.*,
        coalesce(refunds_per_link.refunded_revenue, 0) as refunded_revenue
    from per_link_and_type
    left join refunds_per_link
        on
            per_link_and_type.campaign_link_id = refunds_per_link.campaign_link_id
            and per_link_and_type.event_type = refunds_per_link.event_type

),

final as (

    select
        campaign_link_id,
        event_type,
        cast(conversions as bigint) as conversions,
        cast(revenue as decimal(18, 2)) as revenue,
        -- Per conversion, counting conversions without revenue as zero.
        cast(revenue / nullif(conversions, 0) as decimal(18, 2)) as avg_revenue,
        cast(refunded_revenue as decimal(18, 2)) as refunded_revenue,
        cast(revenue - refunded_revenue as decimal(18, 2)) as net_revenue,
        cast(refunded_revenue as double) / nullif(cast(revenue as double), 0) as refund_rate
    from with_refunds

)

select * from final
