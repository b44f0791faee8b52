-- One row describing the run that built these marts: its as_of date, run id, build time,
-- what came in and how it was judged, from which day on row-level data is kept, and the
-- engine that built them.

with

row_counts as (

    select * from {{ ref('stg_collector__row_counts') }}

),

prunes as (

    select * from {{ ref('stg_retention__prune_log') }}

),

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

inputs as (

    select
        sum(case when stream_name = 'clicks' then row_count else 0 end)
            as raw_clicks,
        sum(case when stream_name = 'conversions' then row_count else 0 end)
            as raw_conversions,
        sum(case when stream_name = 'campaign_links' then row_count else 0 end)
            as raw_campaign_links
    from row_counts

),

verdicts as (

    select
        count(case when attribution_status = 'attributed' then 1 end)
            as attributed_conversions,
        count(case when attribution_status != 'attributed' then 1 end)
            as unattributed_conversions
    from matched

),

retention as (

    select max(horizon) as retained_since
    from prunes

),

final as (

    select
        cast('{{ run_var("as_of") }}' as date) as as_of,
        cast('{{ run_var("run_id") }}' as {{ dbt.type_string() }}) as run_id,
        -- run_started_at is UTC, like every timestamp here.
        cast(
            '{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }}
        ) as built_at,
        cast(inputs.raw_clicks as bigint) as raw_clicks,
        cast(inputs.raw_conversions as bigint) as raw_conversions,
        cast(inputs.raw_campaign_links as bigint) as raw_campaign_links,
        cast(coalesce(verdicts.attributed_conversions, 0) as bigint) as attributed_conversions,
        cast(coalesce(verdicts.unattributed_conversions, 0) as bigint) as unattributed_conversions,
        retention.retained_since,
        cast('{{ target.type }}' as {{ dbt.type_string() }}) as engine,
        cast({{ engine_version() }} as {{ dbt.type_string() }}) as engine_version
    from inputs
    cross join verdicts
    cross join retention

)

select * from final
