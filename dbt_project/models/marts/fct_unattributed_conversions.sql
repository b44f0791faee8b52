-- The ledger of conversions that earned no credit, each with its reason, so nothing the
-- landing pages reported disappears silently.
-- Incremental: recomputes conversions from var('start_date') minus the lookback
-- (macros/incremental/recompute_range.sql). The whole range is deleted first, so a
-- conversion re-judged into the other table (attributed <-> ledger) leaves this one.

{{ config(
    materialized='incremental',
    unique_key='event_id',
    pre_hook="{{ delete_recompute_range('converted_at') }}",
) }}

with

matched as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}
    {% if is_incremental() -%}
        where {{ in_recompute_range('converted_at') }}
    {%- endif %}

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
        days_since_click,
        attribution_status as reason
    from matched
    where attribution_status != 'attributed'

)

select * from final
