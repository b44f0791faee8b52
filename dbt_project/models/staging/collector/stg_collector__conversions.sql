-- One row per conversion event: the tracker retries with the same event_id, the first
-- received wins (macros/staging/first_received.sql).
-- Incremental by raw day, exact over the whole history (macros/staging/first_received.sql).

{%- set tie_breakers = [
    'converted_at', 'tracking_id', 'campaign_link_id', 'source', 'event_type',
    'revenue_amount', 'currency', 'order_id', 'event_data',
] %}
{%- set raw_columns = ['event_id', 'received_at', 'dt'] + tie_breakers %}

{{ config(**incremental_config('dt')) }}
{{ config(
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('dt', kind='date', lookback=false) }}",
) }}

with

source as (

    {{ reloaded_with_kept_copies(source('collector', 'conversions'), raw_columns) }}

),

first_received as (

    {{ first_received('source', tie_breakers) }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(tracking_id as {{ dbt.type_string() }}) as tracking_id,
        cast(campaign_link_id as {{ dbt.type_string() }}) as campaign_link_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(revenue_amount as decimal(10, 2)) as revenue_amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(event_data as {{ dbt.type_string() }}) as event_data,
        cast(converted_at as {{ dbt.type_timestamp() }}) as converted_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        -- `source` is a keyword to sqlfluff, but it is the raw stream's column name.
        cast(source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        cast(dt as date) as dt
    from first_received

)

{{ incremental_rows('final', 'dt', kind='date', lookback=false) }}
