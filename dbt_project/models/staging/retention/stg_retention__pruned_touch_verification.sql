-- The touch verdicts pruning recorded, summed per link named x touch_status (several
-- prunes may have recorded one).

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_touch_verification')) }}

),

final as (

    select
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(touch_status as {{ dbt.type_string() }}) as touch_status,
        cast(sum(touches) as {{ dbt.type_bigint() }}) as touches,
        cast(sum(conversions) as {{ dbt.type_bigint() }}) as conversions
    from source
    group by 1, 2

)

select * from final
