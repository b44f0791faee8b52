-- Conversions retention removed: a copy loaded again from a raw file stays out.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_conversion_ids')) }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
