{#- The range an incremental run recomputes: late events are attributed as if they had
    come on time, because incremental models re-read a lookback of at least W + 1 days
    (docs/rules.md#attribution), W the longest window in use: the default or a link's
    own (longest_window_days below, docs/rules.md#windows-per-link).

    The orchestration passes var('start_date'), the first day whose raw partitions the run
    (re)loaded. A conversion of that day may belong to a click up to W days and 23:59
    earlier, and a click of that day re-judges conversions after it, so every run
    recomputes from start_date - (W + 1) days, 00:00 UTC, to the end of time. Without a
    start_date (a hand-run `dbt build`) the range is everything still in the warehouse.

    Models that depend on the raw rows alone (staging, fct_clicks, the earliest click per
    tracking id) need no lookback: they rebuild the reloaded days, from start_date on
    (`lookback=false`), and the rows those days' events replace. -#}

{% macro lookback_days() -%}
    {{ return(longest_window_days() + 1) }}
{%- endmacro %}

{#- W above: the longest window in use, a link's own when longer than the default
    (docs/rules.md#windows-per-link). -#}
{% macro longest_window_days() -%}
    {%- set longest = run_var('longest_window_days') -%}
    {%- set default = run_var('attribution_window_days') | int -%}
    {%- if longest is none or (longest | string | trim) == '' -%}
        {{ return(default) }}
    {%- endif -%}
    {{ return([longest | int, default] | max) }}
{%- endmacro %}

{#- First day (ISO text) of the recompute range, or none for "everything". A YAML var may
    arrive as a date object or as text; both print as YYYY-MM-DD. -#}
{% macro recompute_from_date(lookback=true) -%}
    {%- set start_date = run_var('start_date') -%}
    {%- if start_date is none or (start_date | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set first_day = modules.datetime.date.fromisoformat(start_date | string | trim)
        - modules.datetime.timedelta(days=lookback_days() if lookback else 0) -%}
    {{ return(first_day.isoformat()) }}
{%- endmacro %}

{#- A predicate on `column`: true for rows inside the recompute range. `kind` is the
    column's type: 'timestamp' (UTC event times) or 'date' (reporting days, compared with
    the same calendar day, which starts at most a day away from 00:00 UTC). -#}
{% macro in_recompute_range(column, kind='timestamp', lookback=true) -%}
    {%- set first_day = recompute_from_date(lookback) -%}
    {%- if first_day is none -%}
        true
    {%- elif kind == 'date' -%}
        {{ column }} >= cast('{{ first_day }}' as date)
    {%- else -%}
        {{ column }} >= cast('{{ first_day }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of the incremental marts: delete the whole recompute range before inserting
    it again. delete+insert / merge on the unique key alone would leave behind rows that
    vanished on recompute - a conversion that moved from fct_conversions to the ledger
    (or back), a day whose rows all went away - so the range goes first, then the key
    delete catches a row whose deduplicated copy moved out of the range. -#}
{% macro delete_recompute_range(column, kind='timestamp', lookback=true) -%}
    {{ return(adapter.dispatch('delete_recompute_range', 'convtrack')(column, kind, lookback)) }}
{%- endmacro %}

{% macro default__delete_recompute_range(column, kind, lookback) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_recompute_range(column, kind, lookback) }}
    {%- endif -%}
{%- endmacro %}

{#- On Spark the range is whole day partitions of `column` (macros/incremental/
    incremental_config.sql): they are dropped, and the run writes them again. A row
    whose deduplicated copy moved to another day is the one case the key delete catches
    and this does not: a Spark run takes every copy of an event to have the event's day
    (docs/operations.md#engines). -#}
{% macro spark__delete_recompute_range(column, kind, lookback) -%}
    {{ return(drop_recompute_partitions(lookback)) }}
{%- endmacro %}
