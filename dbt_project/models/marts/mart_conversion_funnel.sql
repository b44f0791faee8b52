-- Funnel per campaign link: human clicks, the clicks that converted, attributed
-- conversions and revenue by type, and rates over human clicks.

with

links as (

    select * from {{ ref('dim_campaign_links') }}

),

clicks as (

    select * from {{ ref('fct_clicks') }}

),

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

clicks_per_link as (

    select
        campaign_link_id,
        count(case when not is_bot then 1 end) as clicks,
        count(case when is_bot then 1 end) as bot_clicks
    from clicks
    group by campaign_link_id

),

conversions_per_link as (

    -- A conversion through a bot-flagged click still counts (the revenue is real), but
    -- that click is not a human converting click.
    select
        campaign_link_id,
        count(distinct case when not click_is_bot then tracking_id end) as converting_clicks,
        count(*) as conversions,
        count(case when event_type = 'newsletter_signup' then 1 end) as newsletter_signups,
        count(case when event_type = 'course_enrollment' then 1 end) as course_enrollments,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        sum(coalesce(revenue_amount, 0)) as revenue
    from matched
    where attribution_status = 'attributed'
    group by campaign_link_id

),

counted as (

    select
        links.campaign_link_id,
        links.short_code,
        links.campaign_name,
        links.youtube_video_id,
        links.placement,
        coalesce(clicks_per_link.clicks, 0) as clicks,
        coalesce(clicks_per_link.bot_clicks, 0) as bot_clicks,
        coalesce(conversions_per_link.converting_clicks, 0) as converting_clicks,
        coalesce(conversions_per_link.conversions, 0) as conversions,
        coalesce(conversions_per_link.newsletter_signups, 0) as newsletter_signups,
        coalesce(conversions_per_link.course_enrollments, 0) as course_enrollments,
        coalesce(conversions_per_link.purchases, 0) as purchases,
        cast(coalesce(conversions_per_link.revenue, 0) as decimal(18, 2)) as revenue
    from links
    left join clicks_per_link
        on links.campaign_link_id = clicks_per_link.campaign_link_id
    left join conversions_per_link
        on links.campaign_link_id = conversions_per_link.campaign_link_id

),

final as (

    select
        *,
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
