-- Pruned tracking ids that were human converting clicks: the funnel keeps counting them.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_converting_clicks')) }}

),

final as (

    select
        cast(tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
