-- Orders whose counted purchase retention removed: the order stays counted.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_order_ids')) }}

),

final as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
