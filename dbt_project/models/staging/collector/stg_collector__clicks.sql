-- One row per click event: retries and re-imports repeat an event_id, the first received wins.

with

source as (

    select * from {{ source('collector', 'clicks') }}

),

ranked as (

    select
        *,
        -- received_at decides; the rest only makes the pick deterministic (every column, so
        -- exact copies are the only ties, and they are interchangeable).
        row_number() over (
            partition by event_id
            order by
                received_at asc nulls last,
                clicked_at asc nulls last,
                tracking_id asc nulls last,
                campaign_link_id asc nulls last,
                source asc nulls last,
                ip_address asc nulls last,
                user_agent asc nulls last,
                referrer asc nulls last
        ) as arrival_rank
    from source

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(clicked_at as {{ dbt.type_timestamp() }}) as clicked_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(ip_address as {{ dbt.type_string() }}) as ip_address,
        cast(user_agent as {{ dbt.type_string() }}) as user_agent,
        cast(referrer as {{ dbt.type_string() }}) as referrer,
        -- `source` is a keyword to sqlfluff, but it is the SPEC's column name.
        cast(source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        {{ is_bot_user_agent('user_agent') }} as is_bot
    from ranked
    where arrival_rank = 1

)

select * from final
