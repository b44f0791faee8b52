-- What the conversions pruning removed counted under each window of
-- mart_window_sensitivity, summed per link x window (several prunes may have recorded one).

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_window_sensitivity')) }}

),

final as (

    select
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(window_days as int) as window_days,
        cast(sum(conversions) as {{ dbt.type_bigint() }}) as conversions,
        cast(sum(revenue) as decimal(18, 2)) as revenue
    from source
    group by 1, 2

)

select * from final
