-- One row per refund event: the back office retries with the same event_id, the first
-- received wins (macros/staging/first_received.sql). A view over every raw refund: refunds
-- are few and never pruned, and the refund models are rebuilt from all of them each run
-- (docs/rules.md#refunds).

{%- set tie_breakers = [
    'refunded_at', 'order_id', 'amount', 'currency', 'reason', 'source',
] %}

with

source as (

    select event_id, received_at, {{ tie_breakers | join(', ') }}
    from {{ source('collector', 'refunds') }}

),

first_received as (

    {{ first_received('source', tie_breakers) }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(amount as decimal(10, 2)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        -- The merchant's own words; free text, never a reason code of the ledger.
        cast(reason as {{ dbt.type_string() }}) as merchant_reason,
        cast(refunded_at as {{ dbt.type_timestamp() }}) as refunded_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        -- `source` is a keyword to sqlfluff, but it is the raw stream's column name.
        cast(source as {{ dbt.type_string() }}) as source  -- noqa: RF04
    from first_received

)

select * from final
