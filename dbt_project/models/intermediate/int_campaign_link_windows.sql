-- Each version of each campaign link with the span of click times it governs and its own
-- attribution window (docs/rules.md#windows-per-link): a click is judged by the version
-- current at the click - from its recorded_at to the next version's; the first version
-- also governs clicks older than the link (imported history).

with

link_versions as (

    select * from {{ ref('stg_collector__campaign_links') }}

),

ordered as (

    select
        campaign_link_id,
        recorded_at,
        attribution_window_days,
        row_number() over (
            partition by campaign_link_id order by recorded_at asc
        ) as version_number,
        lead(recorded_at) over (
            partition by campaign_link_id order by recorded_at asc
        ) as next_recorded_at
    from link_versions

),

final as (

    select
        campaign_link_id,
        version_number,
        case when version_number > 1 then recorded_at end as valid_from,
        next_recorded_at as valid_to,
        attribution_window_days
    from ordered

)

select * from final
