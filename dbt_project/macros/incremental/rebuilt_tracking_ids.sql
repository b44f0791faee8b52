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
    {{ return(adapter.dispatch('delete_rebuilt_tracking_ids', 'convtrack')()) }}
{%- endmacro %}

{% macro default__delete_rebuilt_tracking_ids() -%}
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
    {{ return(adapter.dispatch('delete_rebuilt_attribution', 'convtrack')()) }}
{%- endmacro %}

{% macro default__delete_rebuilt_attribution() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            tracking_id in ({{ rebuilt_attribution_ids() }})
            or {{ in_recompute_range('clicked_at', lookback=false) }}
    {%- endif -%}
{%- endmacro %}

{#- On Spark both models are partitioned by the day of their click (the tracking id's
    earliest), and a run rewrites whole partitions (macros/incremental/
    incremental_config.sql): every day from S = start_date for int_clicks_per_tracking_id,
    from L = S - (W + 1) days for mart_attribution. A tracking id's row is rewritten when
    its click is on such a day, and kept as it is otherwise. Neither leaves a stale or a
    duplicate row, because the run changes no clicks and no conversions before S (it
    reloads the raw days from S on; a copy of an event has the event's day):

    int_clicks_per_tracking_id, rewriting from S. A tracking id whose earliest click is
    before S keeps it: the run adds or removes clicks from S on only, all of them later;
    its row is the same, and it stays in its partition (a row the model ranks again, for
    a click it also has on a reloaded day, is that same row, and is not written). A
    tracking id whose earliest click is from S on, before the run or after it, has all
    its clicks from S on, so one on a reloaded day: the run ranks it again and writes
    its row (its old row's partition was dropped) - or it has no click left, and no row.

    mart_attribution, rewriting from L. A row whose click is before L is the same after
    the run: the click is (above); the conversions it counts are attributed, so less
    than W + 1 days after it, before S, and unchanged; its window closed before S, so
    before as_of. From L on every tracking id is rebuilt (rebuilt_attribution_ids: every
    click in the recompute range), so the partitions hold exactly the new rows. A late
    conversion of a reloaded day finds its click here when it is attributed - the click
    is less than W + 1 days earlier, from L on - and a late click that rescues a
    no_click conversion is itself on a reloaded day. -#}
{% macro spark__delete_rebuilt_tracking_ids() -%}
    {{ return(drop_recompute_partitions(lookback=false)) }}
{%- endmacro %}

{% macro spark__delete_rebuilt_attribution() -%}
    {{ return(drop_recompute_partitions(lookback=true)) }}
{%- endmacro %}
