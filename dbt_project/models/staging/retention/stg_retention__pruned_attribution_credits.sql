-- The attribution credits pruning recorded, summed per link x event type x model (several
-- prunes may have recorded one).

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_attribution_credits')) }}

),

final as (

    select
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(attribution_model as {{ dbt.type_string() }}) as attribution_model,
        cast(sum(credited_conversions) as decimal(18, 6)) as credited_conversions,
        cast(sum(credited_revenue) as decimal(18, 2)) as credited_revenue
    from source
    group by 1, 2, 3

)

select * from final
