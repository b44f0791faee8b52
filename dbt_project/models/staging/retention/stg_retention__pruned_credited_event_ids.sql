-- Conversions whose credits and touches pruning recorded
-- (stg_retention__pruned_attribution_credits, stg_retention__pruned_touch_verification):
-- their live credits and touches, of those that stay, count no more.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_credited_event_ids')) }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
