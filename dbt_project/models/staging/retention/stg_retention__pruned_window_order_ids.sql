-- The orders a conversion pruning removed counted under a window of
-- mart_window_sensitivity: no other copy counts for them under that window.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_window_order_ids')) }}

),

final as (

    select distinct
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(window_days as int) as window_days
    from source

)

select * from final
