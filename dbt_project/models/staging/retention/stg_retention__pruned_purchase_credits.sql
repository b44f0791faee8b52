-- The per-touch credits of the credited purchases pruning touched, as they were then
-- (docs/rules.md#refunds): a refund of the order is split by them under every model.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_purchase_credits')) }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(attribution_model as {{ dbt.type_string() }}) as attribution_model,
        cast(touch_position as int) as touch_position,
        cast(touch_campaign_link_id as {{ dbt.type_string() }}) as touch_campaign_link_id,
        cast(credited_revenue as decimal(10, 2)) as credited_revenue,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
