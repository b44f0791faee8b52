-- Rows received per raw stream, before any dedup: _meta reports them so a run's inputs
-- can be checked against what the loader wrote.

with

clicks as (

    select count(*) as row_count from {{ source('collector', 'clicks') }}

),

conversions as (

    select count(*) as row_count from {{ source('collector', 'conversions') }}

),

campaign_links as (

    select count(*) as row_count from {{ source('collector', 'campaign_links') }}

),

refunds as (

    select count(*) as row_count from {{ source('collector', 'refunds') }}

),

final as (

    select
        'clicks' as stream_name,
        row_count
    from clicks
    union all
    select
        'conversions' as stream_name,
        row_count
    from conversions
    union all
    select
        'campaign_links' as stream_name,
        row_count
    from campaign_links
    union all
    select
        'refunds' as stream_name,
        row_count
    from refunds

)

select * from final
