-- One row per click event: retries and re-imports repeat an event_id, the first received
-- wins (macros/staging/first_received.sql).

with

source as (

    select * from {{ source('collector', 'clicks') }}

),

first_received as (

    {{ first_received('source', [
        'clicked_at', 'tracking_id', 'campaign_link_id', 'source',
        'ip_address', 'user_agent', 'referrer',
    ]) }}

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
        -- `source` is a keyword to sqlfluff, but it is the raw stream's column name.
        cast(source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        {{ is_bot_user_agent('user_agent') }} as is_bot
    from first_received

)

select * from final
