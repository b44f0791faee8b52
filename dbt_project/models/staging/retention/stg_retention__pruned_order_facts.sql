-- The order facts of the credited purchases pruning removed (docs/rules.md#refunds): a
-- refund of such an order still finds its purchase's link, day and revenue.

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_order_facts')) }}

),

final as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(converted_at as {{ dbt.type_timestamp() }}) as converted_at,
        cast(revenue_amount as decimal(10, 2)) as revenue_amount,
        cast(pruned_as_of as date) as pruned_as_of
    from source

)

select * from final
