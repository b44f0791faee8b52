-- Attributed conversions and revenue per campaign link and conversion type.

with

conversions as (

    select * from {{ ref('fct_conversions') }}

),

per_link_and_type as (

    select
        campaign_link_id,
        event_type,
        count(*) as conversions,
        sum(coalesce(revenue_amount, 0)) as revenue
    from conversions
    group by campaign_link_id, event_type

),

final as (

    select
        campaign_link_id,
        event_type,
        conversions,
        cast(revenue as decimal(18, 2)) as revenue,
        -- Per conversion, counting conversions without revenue as zero.
        cast(revenue / nullif(conversions, 0) as decimal(18, 2)) as avg_revenue
    from per_link_and_type

)

select * from final
