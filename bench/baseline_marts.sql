-- Baseline for bench/pipeline_bench.py: ONE hand-written DuckDB script that computes the
-- marts (docs/schemas.md#warehouse) from the raw Parquet files, the same rules as the dbt
-- models (docs/rules.md#attribution), with nothing around it: no raw load, no incremental
-- ranges, no tests, no publish. The bench sets five variables before running it, from
-- the same places the pipeline takes them: raw_dir (data/raw), as_of (YYYY-MM-DD),
-- reporting_timezone and window_days (the settings), clock_skew_minutes (the dbt var).
-- Retention is skipped: the bench never prunes, so the `retention` tables the models
-- read (pruned tracking ids, conversion and order ids, converting clicks, daily metrics,
-- the prune log) are empty and leave every result unchanged; `retained_since` is null.
-- Raw files are read as they lie: the bench never compacts, so no file is merged twice.

set variable skew_us = getvariable('clock_skew_minutes') * 60 * 1000000::bigint;
set variable day_us = 86400000000::bigint;  -- 1 day

create schema if not exists marts;

-- Raw clicks, one per event_id (the first received), with is_bot.
create temp table stg_clicks as
select
    event_id,
    tracking_id,
    campaign_link_id,
    clicked_at,
    received_at,
    ip_address,
    user_agent,
    referrer,
    source,
    (
        user_agent is null
        or trim(user_agent) = ''
        or regexp_matches(
            lower(user_agent),
            'googlebot|bingbot|yandexbot|duckduckbot|baiduspider|applebot'
            || '|facebookexternalhit|facebookcatalog|twitterbot|slackbot'
            || '|slack-imgproxy|discordbot|whatsapp|telegrambot|linkedinbot'
            || '|skypeuripreview|redditbot|pinterestbot|embedly|vkshare'
            || '|curl|wget|python-requests|python-urllib|aiohttp|httpx'
            || '|go-http-client|java/|okhttp|libwww-perl|headlesschrome'
            || '|phantomjs|bot|crawler|spider|preview'
        )
    ) as is_bot
from read_parquet(getvariable('raw_dir') || '/clicks/*/*.parquet')
qualify row_number() over (
    partition by event_id
    order by
        received_at, clicked_at, tracking_id, campaign_link_id, source, ip_address,
        user_agent, referrer
) = 1;

-- The click that counts for each tracking id: the earliest.
create temp table first_clicks as
select tracking_id, event_id as click_event_id, campaign_link_id, clicked_at, is_bot
from stg_clicks
qualify row_number() over (
    partition by tracking_id order by clicked_at, received_at, event_id
) = 1;

-- Conversions, one per event_id, judged against their click; then one per order.
create temp table matched as
with
conversions as (
    select
        event_id, tracking_id, campaign_link_id, event_type,
        cast(revenue_amount as decimal(10, 2)) as revenue_amount, currency, order_id,
        event_data, converted_at, received_at, source
    from read_parquet(getvariable('raw_dir') || '/conversions/*/*.parquet')
    qualify row_number() over (
        partition by event_id
        order by
            received_at, converted_at, tracking_id, campaign_link_id, source, event_type,
            revenue_amount, currency, order_id, event_data
    ) = 1
),
judged as (
    select
        c.*,
        k.clicked_at,
        k.is_bot as click_is_bot,
        epoch_us(c.converted_at) - epoch_us(k.clicked_at) as elapsed_us,
        case
            when elapsed_us < 0 and elapsed_us >= -getvariable('skew_us') then 0
            else cast(floor(elapsed_us / getvariable('day_us')) as bigint)
        end as days_since_click,
        case
            when k.clicked_at is null then 'no_click'
            when c.campaign_link_id != k.campaign_link_id then 'link_mismatch'
            when elapsed_us < -getvariable('skew_us') then 'before_click'
            when days_since_click > getvariable('window_days') then 'window_expired'
            else 'attributed'
        end as window_status
    from conversions as c
    left join first_clicks as k on c.tracking_id = k.tracking_id
),
candidates as (
    select
        *,
        coalesce(
            event_type = 'purchase' and order_id is not null and window_status = 'attributed',
            false
        ) as is_order_candidate
    from judged
)
select
    * exclude (elapsed_us, window_status, is_order_candidate),
    case
        when is_order_candidate
            and row_number() over (
                partition by order_id, is_order_candidate
                order by received_at, converted_at, event_id
            ) > 1
            then 'duplicate_order'
        else window_status
    end as attribution_status
from candidates;

create or replace table marts.dim_campaign_links as
select
    campaign_link_id, short_code, destination_url, campaign_name, youtube_video_id,
    placement, created_at, disabled_at, disabled_at is null as is_active, recorded_at
from read_parquet(getvariable('raw_dir') || '/campaign_links/*/*.parquet')
qualify row_number() over (
    partition by campaign_link_id
    order by
        recorded_at desc, disabled_at desc nulls first, short_code, destination_url,
        campaign_name, youtube_video_id, placement, created_at
) = 1;

create or replace table marts.fct_clicks as
select * from stg_clicks;

create or replace table marts.fct_conversions as
select * exclude (click_is_bot, attribution_status)
from matched
where attribution_status = 'attributed';

create or replace table marts.fct_unattributed_conversions as
select * exclude (click_is_bot, attribution_status), attribution_status as reason
from matched
where attribution_status != 'attributed';

create or replace table marts.mart_attribution as
with per_tracking_id as (
    select
        tracking_id,
        count(*) as conversions,
        sum(coalesce(revenue_amount, 0)) as revenue,
        min(converted_at) as first_converted_at,
        max(converted_at) as last_converted_at
    from marts.fct_conversions
    group by tracking_id
)
select
    k.tracking_id,
    k.campaign_link_id,
    k.clicked_at,
    k.is_bot,
    coalesce(p.conversions, 0) as conversions,
    cast(coalesce(p.revenue, 0) as decimal(18, 2)) as revenue,
    p.first_converted_at,
    p.last_converted_at,
    k.clicked_at + to_days(getvariable('window_days') + 1) as window_ends_at,
    window_ends_at > cast(getvariable('as_of') as timestamp) + interval 1 day as is_window_open
from first_clicks as k
left join per_tracking_id as p on k.tracking_id = p.tracking_id;

create or replace table marts.agg_daily_link_metrics as
select
    cast(timezone(getvariable('reporting_timezone'), timezone('UTC', clicked_at)) as date)
        as metric_date,
    campaign_link_id,
    'click' as event_type,
    count(*) filter (where not is_bot) as clicks,
    count(*) filter (where is_bot) as bot_clicks,
    cast(0 as bigint) as conversions,
    cast(0 as decimal(18, 2)) as revenue
from stg_clicks
group by 1, 2
union all
select
    cast(timezone(getvariable('reporting_timezone'), timezone('UTC', converted_at)) as date),
    campaign_link_id,
    event_type,
    0,
    0,
    count(*),
    cast(sum(coalesce(revenue_amount, 0)) as decimal(18, 2))
from marts.fct_conversions
group by 1, 2, 3;

-- Funnel and revenue by type sum the daily history, as the models do; only converting
-- clicks (distinct, which days cannot add up) come from the row-level verdicts.
create or replace table marts.mart_conversion_funnel as
with
totals as (
    select
        campaign_link_id,
        sum(clicks) as clicks,
        sum(bot_clicks) as bot_clicks,
        sum(conversions) as conversions,
        sum(conversions) filter (where event_type = 'newsletter_signup') as newsletter_signups,
        sum(conversions) filter (where event_type = 'course_enrollment') as course_enrollments,
        sum(conversions) filter (where event_type = 'purchase') as purchases,
        sum(revenue) as revenue
    from marts.agg_daily_link_metrics
    group by campaign_link_id
),
converting as (
    select campaign_link_id, count(distinct tracking_id) as converting_clicks
    from matched
    where attribution_status = 'attributed' and not click_is_bot
    group by campaign_link_id
),
counted as (
    select
        l.campaign_link_id, l.short_code, l.campaign_name, l.youtube_video_id, l.placement,
        cast(coalesce(t.clicks, 0) as bigint) as clicks,
        cast(coalesce(t.bot_clicks, 0) as bigint) as bot_clicks,
        coalesce(c.converting_clicks, 0) as converting_clicks,
        cast(coalesce(t.conversions, 0) as bigint) as conversions,
        cast(coalesce(t.newsletter_signups, 0) as bigint) as newsletter_signups,
        cast(coalesce(t.course_enrollments, 0) as bigint) as course_enrollments,
        cast(coalesce(t.purchases, 0) as bigint) as purchases,
        cast(coalesce(t.revenue, 0) as decimal(18, 2)) as revenue
    from marts.dim_campaign_links as l
    left join totals as t on l.campaign_link_id = t.campaign_link_id
    left join converting as c on l.campaign_link_id = c.campaign_link_id
)
select
    *,
    converting_clicks / nullif(clicks, 0) as click_to_conversion_rate,
    newsletter_signups / nullif(clicks, 0) as newsletter_signup_rate,
    course_enrollments / nullif(clicks, 0) as course_enrollment_rate,
    purchases / nullif(clicks, 0) as purchase_rate
from counted;

create or replace table marts.mart_revenue_by_type as
select
    campaign_link_id,
    event_type,
    cast(sum(conversions) as bigint) as conversions,
    cast(sum(revenue) as decimal(18, 2)) as revenue,
    cast(sum(revenue) / nullif(sum(conversions), 0) as decimal(18, 2)) as avg_revenue
from marts.agg_daily_link_metrics
where event_type != 'click'
group by campaign_link_id, event_type;

create or replace table marts._meta as
select
    cast(getvariable('as_of') as date) as as_of,
    'baseline' as run_id,
    current_timestamp::timestamp as built_at,
    (select count(*) from read_parquet(getvariable('raw_dir') || '/clicks/*/*.parquet'))
        as raw_clicks,
    (select count(*) from read_parquet(getvariable('raw_dir') || '/conversions/*/*.parquet'))
        as raw_conversions,
    (select count(*) from read_parquet(getvariable('raw_dir') || '/campaign_links/*/*.parquet'))
        as raw_campaign_links,
    count(*) filter (where attribution_status = 'attributed') as attributed_conversions,
    count(*) filter (where attribution_status != 'attributed') as unattributed_conversions,
    null::date as retained_since  -- nothing pruned here
from matched;
