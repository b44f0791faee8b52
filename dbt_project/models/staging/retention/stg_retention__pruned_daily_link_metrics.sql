-- What pruned rows contributed to agg_daily_link_metrics, summed per key (several prunes
-- may have touched one reporting day).

with

source as (

    -- Only what finished prunes recorded (macros/retention/retention_tables.sql).
    {{ finished_prunes_only(source('retention', 'pruned_daily_link_metrics')) }}

),

final as (

    select
        cast(metric_date as date) as metric_date,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(sum(clicks) as bigint) as clicks,
        cast(sum(bot_clicks) as bigint) as bot_clicks,
        cast(sum(conversions) as bigint) as conversions,
        cast(sum(revenue) as decimal(18, 2)) as revenue
    from source
    group by 1, 2, 3

)

select * from final
