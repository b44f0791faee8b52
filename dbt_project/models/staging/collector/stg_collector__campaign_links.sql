-- Every recorded version of every campaign link, typed; the current one is picked in
-- dim_campaign_links.

with

source as (

    select * from {{ source('collector', 'campaign_links') }}

),

final as (

    select
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(short_code as {{ dbt.type_string() }}) as short_code,
        cast(destination_url as {{ dbt.type_string() }}) as destination_url,
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(youtube_video_id as {{ dbt.type_string() }}) as youtube_video_id,
        cast(placement as {{ dbt.type_string() }}) as placement,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(disabled_at as {{ dbt.type_timestamp() }}) as disabled_at,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at,
        -- Null in files written before links had their own window: the default applies.
        cast(attribution_window_days as int) as attribution_window_days
    from source

)

select * from final
