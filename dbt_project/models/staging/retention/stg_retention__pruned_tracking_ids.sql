-- Tracking ids whose click retention removed: a conversion arriving for one later is
-- click_pruned, and a re-loaded copy of its click stays out of the marts.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_tracking_ids')) }}

),

final as (

    select
        cast(tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(clicked_on as date) as clicked_on,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
