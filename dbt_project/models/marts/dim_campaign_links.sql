-- The current version of each campaign link: campaign_links is append-only, and the
-- latest recorded version (e.g. the one that disabled it) wins.

with

link_versions as (

    select * from {{ ref('stg_collector__campaign_links') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by campaign_link_id
            -- recorded_at decides; the rest makes the pick deterministic.
            order by
                recorded_at desc,
                disabled_at desc nulls first,
                short_code asc nulls last,
                destination_url asc nulls last,
                campaign_name asc nulls last,
                youtube_video_id asc nulls last,
                placement asc nulls last,
                created_at asc nulls last
        ) as version_rank
    from link_versions

),

final as (

    select
        campaign_link_id,
        short_code,
        destination_url,
        campaign_name,
        youtube_video_id,
        placement,
        created_at,
        disabled_at,
        disabled_at is null as is_active,
        recorded_at,
        attribution_window_days
    from ranked
    where version_rank = 1

)

select * from final
