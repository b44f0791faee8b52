-- Attributed conversions only; the others are in fct_unattributed_conversions.

with

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}

),

final as (

    select
        event_id,
        tracking_id,
        campaign_link_id,
        event_type,
        revenue_amount,
        currency,
        order_id,
        event_data,
        converted_at,
        received_at,
        source,
        clicked_at,
        days_since_click
    from matched
    where attribution_status = 'attributed'

)

select * from final
