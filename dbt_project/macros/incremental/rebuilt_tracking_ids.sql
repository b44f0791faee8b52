{#- The tracking ids whose earliest click a run must rank again: those with a click on a
    day it reloaded (macros/incremental/recompute_range.sql, no lookback). -#}
{% macro reloaded_tracking_ids() -%}
    select reloaded.tracking_id
    from {{ ref('stg_collector__clicks') }} as reloaded
    where {{ in_recompute_range('reloaded.dt', kind='date', lookback=false) }}
{%- endmacro %}

{#- Pre-hook of int_clicks_per_tracking_id: out go the tracking ids ranked again, and any
    click kept from a reloaded day: if that day no longer has it, every other click of
    its tracking id is later (it was the earliest), so on a reloaded day too, and ranked
    again - or there is none, and the tracking id is gone. -#}
{% macro delete_rebuilt_tracking_ids() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            tracking_id in ({{ reloaded_tracking_ids() }})
            or {{ in_recompute_range('clicked_at', lookback=false) }}
    {%- endif -%}
{%- endmacro %}

{#- The tracking ids whose mart_attribution row a run rebuilds (see that model). -#}
{% macro rebuilt_attribution_ids() -%}
    {{ reloaded_tracking_ids() }}
    union
    select clicks.tracking_id
    from {{ ref('int_clicks_per_tracking_id') }} as clicks
    where {{ in_recompute_range('clicks.clicked_at') }}
    union
    select judged.tracking_id
    from {{ ref('int_conversions_matched_to_clicks') }} as judged
    where {{ in_recompute_range('judged.converted_at') }}
{%- endmacro %}

{#- Pre-hook of mart_attribution: the rows rebuilt go first, and so does a tracking id
    whose click is gone from int_clicks_per_tracking_id (rebuilt there, found no more). -#}
{% macro delete_rebuilt_attribution() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            tracking_id in ({{ rebuilt_attribution_ids() }})
            or {{ in_recompute_range('clicked_at', lookback=false) }}
    {%- endif -%}
{%- endmacro %}
