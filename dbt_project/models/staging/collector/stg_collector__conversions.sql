-- One row per conversion event: the tracker retries with the same event_id, the first
-- received wins.

with

source as (

    select * from {{ source('collector', 'conversions') }}

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
                converted_at asc nulls last,
                tracking_id asc nulls last,
                campaign_link_id asc nulls last,
                source asc nulls last,
                event_type asc nulls last,
                revenue_amount asc nulls last,
                currency asc nulls last,
                order_id asc nulls last,
                event_data asc nulls last
        ) as arrival_rank
    from source

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
        -- `source` is a keyword to sqlfluff, but it is the SPEC's column name.
        cast(source as {{ dbt.type_string() }}) as source  -- noqa: RF04
    from ranked
    where arrival_rank = 1

)

select * from final
