-- Funnel per campaign link over its whole life: human clicks, the clicks that converted,
-- attributed conversions and revenue by type, and rates over human clicks.
-- Built from what retention keeps, so a prune changes no number here: the sums from the
-- daily history, and converting clicks - distinct clicks, which days cannot add up -
-- from the converting clicks still kept plus those pruning remembered. Gross revenue
-- (`revenue`), the refunds credited against the link's purchases (fct_refunds, which a
-- prune changes neither) and net revenue side by side (docs/rules.md#refunds).

with

links as (

    select * from {{ ref('dim_campaign_links') }}

),

daily as (

    select * from {{ ref('agg_daily_link_metrics') }}

),

converting_clicks as (

    select * from {{ ref('int_converting_clicks') }}

),

pruned_converting_clicks as (

    select * from {{ ref('stg_retention__pruned_converting_clicks') }}

),

refunds as (

    select * from {{ ref('fct_refunds') }}

),

refunds_per_link as (

    select
        campaign_link_id,
        sum(credited_amount) as refunded_revenue
    from refunds
    group by campaign_link_id

),

totals_per_link as (

    select
        campaign_link_id,
        sum(clicks) as clicks,
        sum(bot_clicks) as bot_clicks,
        sum(conversions) as conversions,
        sum(case when event_type = 'newsletter_signup' then conversions else 0 end)
            as newsletter_signups,
        sum(case when event_type = 'course_enrollment' then conversions else 0 end)
            as course_enrollments,
        sum(case when event_type = 'purchase' then conversions else 0 end) as purchases,
        sum(revenue) as revenue
    from daily
    group by campaign_link_id

),

every_converting_click as (

    -- Disjoint: a pruned tracking id never has a kept click again.
    select
        tracking_id,
        campaign_link_id
    from converting_clicks
    union all
    select
        tracking_id,
        campaign_link_id
    from pruned_converting_clicks

),

converting_clicks_per_link as (

    select
        campaign_link_id,
        count(distinct tracking_id) as converting_clicks
    from every_converting_click
    group by campaign_link_id

),

counted as (

    select
        links.campaign_link_id,
        links.short_code,
        links.campaign_name,
        links.youtube_video_id,
        links.placement,
        cast(coalesce(totals_per_link.clicks, 0) as bigint) as clicks,
        cast(coalesce(totals_per_link.bot_clicks, 0) as bigint) as bot_clicks,
        cast(coalesce(converting_clicks_per_link.converting_clicks, 0) as bigint)
            as converting_clicks,
        cast(coalesce(totals_per_link.conversions, 0) as bigint) as conversions,
        cast(coalesce(totals_per_link.newsletter_signups, 0) as bigint) as newsletter_signups,
        cast(coalesce(totals_per_link.course_enrollments, 0) as bigint) as course_enrollments,
        cast(coalesce(totals_per_link.purchases, 0) as bigint) as purchases,
        cast(coalesce(totals_per_link.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(refunds_per_link.refunded_revenue, 0) as decimal(18, 2))
            as refunded_revenue
    from links
    left join totals_per_link
        on links.campaign_link_id = totals_per_link.campaign_link_id
    left join converting_clicks_per_link
        on links.campaign_link_id = converting_clicks_per_link.campaign_link_id
    left join refunds_per_link
        on links.campaign_link_id = refunds_per_link.campaign_link_id

),

final as (

    select
        *,
        cast(revenue - refunded_revenue as decimal(18, 2)) as net_revenue,
        cast(refunded_revenue as double) / nullif(cast(revenue as double), 0) as refund_rate,
        cast(converting_clicks as double)
        / nullif(clicks, 0) as click_to_conversion_rate,
        cast(newsletter_signups as double)
        / nullif(clicks, 0) as newsletter_signup_rate,
        cast(course_enrollments as double)
        / nullif(clicks, 0) as course_enrollment_rate,
        cast(purchases as double) / nullif(clicks, 0) as purchase_rate
    from counted

)

select * from final
