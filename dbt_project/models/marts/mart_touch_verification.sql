-- Touches per campaign link named and touch_status, over the link's whole life: how
-- many passed ('verified') and how many were dropped, by reason (docs/rules.md#touches).
-- Built from what retention keeps, so a prune changes no number here: the touches of the
-- conversions no prune touched, plus the counts pruning recorded for the ones it did
-- (they went, or a touch lost its click and would read click_pruned).

with

touches as (

    select * from {{ ref('int_conversion_touches') }}

),

pruned_touches as (

    select * from {{ ref('stg_retention__pruned_touch_verification') }}

),

pruned_credited_event_ids as (

    select * from {{ ref('stg_retention__pruned_credited_event_ids') }}

),

live_touches as (

    select touches.*
    from touches
    left join pruned_credited_event_ids
        on touches.event_id = pruned_credited_event_ids.event_id
    where pruned_credited_event_ids.event_id is null

),

live_per_link_and_status as (

    select
        touch_campaign_link_id as campaign_link_id,
        touch_status,
        count(*) as touches,
        count(distinct event_id) as conversions
    from live_touches
    group by touch_campaign_link_id, touch_status

),

unioned as (

    select
        campaign_link_id,
        touch_status,
        touches,
        conversions
    from live_per_link_and_status
    union all
    select
        campaign_link_id,
        touch_status,
        touches,
        conversions
    from pruned_touches

),

final as (

    select
        campaign_link_id,
        touch_status,
        cast(sum(touches) as {{ dbt.type_bigint() }}) as touches,
        cast(sum(conversions) as {{ dbt.type_bigint() }}) as conversions
    from unioned
    group by campaign_link_id, touch_status

)

select * from final
