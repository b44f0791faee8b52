{#- Staging's one rule for repeated events: the tracker retries with the same event_id,
    a batch may be sent twice, a file imported again - and the first received copy is
    the event (docs/rules.md#attribution). Rows of `relation` (a relation or CTE with
    event_id and received_at), one per event_id, plus their arrival_rank (always 1).

    received_at decides. `tie_breakers` - every other column of the stream - only make
    the pick deterministic: exact copies are then the only ties, and they are
    interchangeable. No `qualify`, so it reads the same on DuckDB and Spark. -#}
{% macro first_received(relation, tie_breakers) -%}
    {{ first_row_per(relation, 'event_id', ['received_at'] + tie_breakers, 'arrival_rank') }}
{%- endmacro %}

{#- Rows of `relation`, one per `key`: the first in the order of `order_columns` (each
    ascending, nulls last), with its rank (always 1) as `rank_column`. Most keys come
    once: only the repeated ones are ranked (a sort on every order column), the rest
    pass through a hash lookup - the same rows, a fraction of the work (bench/README.md).
    A null key, which no writer makes, is ranked with the repeated ones. -#}
{% macro first_row_per(relation, key, order_columns, rank_column) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by {{ order_columns | join(' asc nulls last, ') }} asc nulls last
            ) as {{ rank_column }}
        from {{ relation }}
        where {{ key }} is null or {{ key }} in ({{ _repeated_keys(relation, key) }})
    ) as ranked
    where {{ rank_column }} = 1
    union all
    select
        *,
        1 as {{ rank_column }}
    from {{ relation }}
    where {{ key }} is not null and {{ key }} not in ({{ _repeated_keys(relation, key) }})
{%- endmacro %}

{#- Keys that come more than once, never null (`not in` a set holding null is never
    true). -#}
{% macro _repeated_keys(relation, key) -%}
    select repeated.{{ key }}
    from {{ relation }} as repeated
    where repeated.{{ key }} is not null
    group by repeated.{{ key }}
    having count(*) > 1
{%- endmacro %}

{#- The rows an incremental staging model dedups: the raw rows of the days the run
    reloaded (`dt`, the UTC day of the event time, from var('start_date') on; every raw
    row on a first build), and the copies earlier days kept of the same event ids - its
    pre-hook has deleted the reloaded days, so only those are left in {{ this }}. So the
    first received copy wins across the whole history, exactly as a full rebuild would
    pick it, at the cost of the new days. `columns`: the raw columns, dt among them, in
    one order for both sides. -#}
{% macro reloaded_with_kept_copies(relation, columns) -%}
    {%- set reloaded_days = in_recompute_range('dt', kind='date', lookback=false) -%}
    select {{ columns | join(', ') }}
    from {{ relation }}
    {% if is_incremental() -%}
        {#- A column added to the stream since {{ this }} was built (on_schema_change adds
            it after this run) is null in the copies it kept. -#}
        {%- set kept = adapter.get_columns_in_relation(this) | map(attribute='name')
            | map('lower') | list -%}
        {%- set kept_columns = [] -%}
        {%- for column in columns -%}
            {%- set kept_column = column if column | lower in kept else 'null as ' ~ column -%}
            {%- do kept_columns.append(kept_column) -%}
        {%- endfor %}
        where {{ reloaded_days }}
        union all
        select {{ kept_columns | join(', ') }}
        from {{ this }}
        where event_id in (
            select reloaded.event_id from {{ relation }} as reloaded where {{ reloaded_days }}
        )
    {%- endif %}
{%- endmacro %}
