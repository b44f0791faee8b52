-- One row per click event: retries and re-imports repeat an event_id, the first received
-- wins (macros/staging/first_received.sql).
-- Incremental by raw day, exact over the whole history (macros/staging/first_received.sql).
-- A click of a tracking id retention pruned stays out, even while its raw file is kept
-- (on Spark the raw files are read in place, and a rebuilt day would bring it back).
-- Models downstream keep out the same rows again: a build between a prune's records and
-- its removals (a Spark prune stopped part-way) finds rows staged before it.

{%- set tie_breakers = [
    'clicked_at', 'tracking_id', 'campaign_link_id', 'source',
    'ip_address', 'user_agent', 'referrer',
] %}
{%- set raw_columns = ['event_id', 'received_at', 'dt'] + tie_breakers %}

{{ config(**incremental_config('dt')) }}
{{ config(
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('dt', kind='date', lookback=false) }}",
) }}

with

source as (

    {{ reloaded_with_kept_copies(source('collector', 'clicks'), raw_columns) }}

),

first_received as (

    {{ first_received('source', tie_breakers) }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_tracking_ids') }}

),

user_agents as (

    -- Far fewer user agents than clicks: each is classified once, not once per click.
    select
        user_agent,
        {{ is_bot_user_agent('user_agent') }} as is_bot
    from (select distinct first_received.user_agent from first_received) as distinct_agents

),

final as (

    select
        cast(first_received.event_id as {{ dbt.type_string() }}) as event_id,
        cast(first_received.tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(first_received.campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(first_received.clicked_at as {{ dbt.type_timestamp() }}) as clicked_at,
        cast(first_received.received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(first_received.ip_address as {{ dbt.type_string() }}) as ip_address,
        cast(first_received.user_agent as {{ dbt.type_string() }}) as user_agent,
        cast(first_received.referrer as {{ dbt.type_string() }}) as referrer,
        -- `source` is a keyword to sqlfluff, but it is the raw stream's column name.
        cast(first_received.source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        user_agents.is_bot,
        cast(first_received.dt as date) as dt
    from first_received
    -- A missing user agent is a (bot's) user agent of its own.
    inner join user_agents
        on first_received.user_agent is not distinct from user_agents.user_agent
    left join pruned
        on first_received.tracking_id = pruned.tracking_id
    where pruned.tracking_id is null

)

{{ incremental_rows('final', 'dt', kind='date', lookback=false) }}
