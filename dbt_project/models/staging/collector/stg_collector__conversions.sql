-- One row per conversion event: the tracker retries with the same event_id, the first
-- received wins (macros/staging/first_received.sql).
-- Incremental by raw day, exact over the whole history (macros/staging/first_received.sql).
-- A conversion retention removed stays out, even while its raw file is kept (on Spark
-- the raw files are read in place, and a rebuilt day would bring it back).
-- Models downstream keep out the same rows again: a build between a prune's records and
-- its removals (a Spark prune stopped part-way) finds rows staged before it.

{%- set tie_breakers = [
    'converted_at', 'tracking_id', 'campaign_link_id', 'source', 'event_type',
    'revenue_amount', 'currency', 'order_id', 'event_data',
] %}
{#- touches (docs/rules.md#touches) is no tie breaker: copies of one event carry the same. #}
{%- set raw_columns = ['event_id', 'received_at', 'dt', 'touches'] + tie_breakers %}

{{ config(**incremental_config('dt')) }}
{{ config(
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('dt', kind='date', lookback=false) }}",
    on_schema_change='append_new_columns',
) }}

with

source as (

    {{ reloaded_with_kept_copies(source('collector', 'conversions'), raw_columns) }}

),

first_received as (

    {{ first_received('source', tie_breakers) }}

),

pruned as (

    select * from {{ ref('stg_retention__pruned_conversion_ids') }}

),

final as (

    select
        cast(first_received.event_id as {{ dbt.type_string() }}) as event_id,
        cast(first_received.tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(first_received.campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(first_received.event_type as {{ dbt.type_string() }}) as event_type,
        cast(first_received.revenue_amount as decimal(10, 2)) as revenue_amount,
        cast(first_received.currency as {{ dbt.type_string() }}) as currency,
        cast(first_received.order_id as {{ dbt.type_string() }}) as order_id,
        cast(first_received.event_data as {{ dbt.type_string() }}) as event_data,
        cast(first_received.converted_at as {{ dbt.type_timestamp() }}) as converted_at,
        cast(first_received.received_at as {{ dbt.type_timestamp() }}) as received_at,
        -- `source` is a keyword to sqlfluff, but it is the raw stream's column name.
        cast(first_received.source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        first_received.touches,
        cast(first_received.dt as date) as dt
    from first_received
    left join pruned
        on first_received.event_id = pruned.event_id
    where pruned.event_id is null

)

{{ incremental_rows('final', 'dt', kind='date', lookback=false) }}
