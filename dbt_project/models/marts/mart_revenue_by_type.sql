-- Attributed conversions and revenue per campaign link and conversion type, over the
-- link's whole life: summed from the daily history, which retention never prunes.

with

daily as (

    select * from {{ ref('agg_daily_link_metrics') }}

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

final as (

    select
        campaign_link_id,
        event_type,
        cast(conversions as bigint) as conversions,
        cast(revenue as decimal(18, 2)) as revenue,
        -- Per conversion, counting conversions without revenue as zero.
        cast(revenue / nullif(conversions, 0) as decimal(18, 2)) as avg_revenue
    from per_link_and_type

)

select * from final
