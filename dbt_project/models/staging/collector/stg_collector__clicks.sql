-- One row per click event: retries and re-imports repeat an event_id, the first received
-- wins (macros/staging/first_received.sql).
-- Incremental by raw day (`dt`, the UTC day of the event time): each run re-reads the
-- days it reloaded, from var('start_date') on, and competes them with the copies earlier
-- days already kept of the same event ids - so the first received copy wins across the
-- whole history, exactly as a full rebuild would pick it, at the cost of the new days.

{%- set tie_breakers = [
    'clicked_at', 'tracking_id', 'campaign_link_id', 'source',
    'ip_address', 'user_agent', 'referrer',
] %}
{%- set raw_columns = ['event_id', 'received_at', 'dt'] + tie_breakers %}

{{ config(
    materialized='incremental',
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('dt', kind='date', lookback=false) }}",
) }}

with

reloaded as (

    select {{ raw_columns | join(', ') }}
    from {{ source('collector', 'clicks') }}
    {% if is_incremental() -%}
        where {{ in_recompute_range('dt', kind='date', lookback=false) }}
    {%- endif %}

),

source as (

    select * from reloaded
    {% if is_incremental() -%}
        -- The copy an earlier day kept of an event that came again: the pre-hook left
        -- only days before the reloaded ones here.
        union all
        select {{ raw_columns | join(', ') }}
        from {{ this }}
        where event_id in (select reloaded.event_id from reloaded)
    {%- endif %}

),

first_received as (

    {{ first_received('source', tie_breakers) }}

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
        {{ is_bot_user_agent('user_agent') }} as is_bot,
        cast(dt as date) as dt
    from first_received

)

select * from final
