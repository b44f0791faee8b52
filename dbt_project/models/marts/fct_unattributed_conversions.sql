-- The ledger of conversions that earned no credit, each with its reason, so nothing the
-- landing pages reported disappears silently: fct_conversions' columns
-- (macros/marts/judged_conversion_columns.sql), then the reason.
-- Incremental: recomputes conversions from var('start_date') minus the lookback
-- (macros/incremental/recompute_range.sql). The whole range is deleted first, so a
-- conversion re-judged into the other table (attributed <-> ledger) leaves this one.

{{ config(**incremental_config()) }}
{{ config(
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
        {{ judged_conversion_columns() | join(', ') }},
        attribution_status as reason
    from matched
    where attribution_status != 'attributed'

)

{{ incremental_rows('final', 'converted_at') }}
