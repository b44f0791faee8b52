-- One row per prune: as of when, keeping how many days, and the horizon it applied.

with

source as (

    select * from {{ source('retention', 'prune_log') }}

),

final as (

    select
        cast(pruned_as_of as date) as pruned_as_of,
        cast(retention_days as int) as retention_days,
        cast(horizon as date) as horizon
    from source

)

select * from final
