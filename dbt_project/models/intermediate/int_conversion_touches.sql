-- Every touch of every credited conversion, checked against the click it names
-- (docs/rules.md#touches): 'verified', or why it is dropped. A conversion without
-- touches has one, its own click. Each is judged by the rule its own click is
-- (macros/click_verdict.sql), with 'verified' for 'attributed'.

{%- set carried = ['event_id', 'event_type', 'revenue_amount', 'converted_at'] %}

with

credited as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}
    where attribution_status = 'attributed'

),

conversions as (

    select * from {{ ref('stg_collector__conversions') }}

),

clicks as (

    select * from {{ ref('int_clicks_per_tracking_id') }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_tracking_ids') }}

),

link_windows as (

    select * from {{ ref('int_campaign_link_windows') }}

),

paths as (

    select
        credited.event_id,
        credited.event_type,
        credited.revenue_amount,
        credited.converted_at,
        credited.tracking_id,
        credited.campaign_link_id,
        -- The raw JSON text as a list; null where it holds no touches (macros/touches.sql).
        {{ touches_parsed(
            'conversions.touches', 'credited.tracking_id', 'credited.campaign_link_id'
        ) }} as touches
    from credited
    inner join conversions
        on credited.event_id = conversions.event_id

),

sent_touches as (

    {{ touches_unnested('paths', carried) }}

),

own_touches as (

    -- touches_parsed reads an empty list as null: null is the only "no touches".
    select
        {{ carried | join(', ') }},
        1 as touch_position,
        tracking_id as touch_tracking_id,
        campaign_link_id as touch_campaign_link_id
    from paths
    where touches is null

),

all_touches as (

    select * from sent_touches
    union all
    select * from own_touches

),

joined as (

    select
        all_touches.*,
        clicks.clicked_at,
        clicks.campaign_link_id as click_campaign_link_id,
        pruned.tracking_id is not null as is_click_pruned,
        link_windows.attribution_window_days as click_window_days,
        {{ epoch_us('all_touches.converted_at') }}
        - {{ epoch_us('clicks.clicked_at') }} as elapsed_us
    from all_touches
    left join clicks
        on all_touches.touch_tracking_id = clicks.tracking_id
    left join pruned
        on all_touches.touch_tracking_id = pruned.tracking_id
    left join link_windows
        on {{ at_click_version('link_windows', 'clicks.campaign_link_id', 'clicks.clicked_at') }}

),

final as (

    select
        event_id,
        event_type,
        revenue_amount,
        converted_at,
        touch_position,
        touch_tracking_id,
        touch_campaign_link_id,
        clicked_at,
        {{ click_verdict(
            'clicked_at', 'is_click_pruned', 'touch_campaign_link_id', 'click_campaign_link_id',
            'elapsed_us', 'verified', 'click_window_days',
        ) }} as touch_status
    from joined

)

select * from final
