-- Clicks and attributed conversions per reporting day, link and event type: the history
-- that pruning must never change. Clicks count on their click day, conversions on their
-- conversion day, both as calendar days in var('reporting_timezone').

with

clicks as (

    select * from {{ ref('fct_clicks') }}

),

conversions as (

    select * from {{ ref('fct_conversions') }}

),

clicks_per_day as (

    select
        {{ to_reporting_date('clicked_at') }} as metric_date,
        campaign_link_id,
        'click' as event_type,
        count(case when not is_bot then 1 end) as clicks,
        count(case when is_bot then 1 end) as bot_clicks,
        0 as conversions,
        cast(0 as decimal(18, 2)) as revenue
    from clicks
    group by 1, 2

),

conversions_per_day as (

    select
        {{ to_reporting_date('converted_at') }} as metric_date,
        campaign_link_id,
        event_type,
        0 as clicks,
        0 as bot_clicks,
        count(*) as conversions,
        cast(sum(coalesce(revenue_amount, 0)) as decimal(18, 2)) as revenue
    from conversions
    group by 1, 2, 3

),

unioned as (

    select * from clicks_per_day
    union all
    select * from conversions_per_day

),

final as (

    select
        metric_date,
        campaign_link_id,
        event_type,
        cast(clicks as bigint) as clicks,
        cast(bot_clicks as bigint) as bot_clicks,
        cast(conversions as bigint) as conversions,
        revenue
    from unioned

)

select * from final
