{#- Staging's one rule for repeated events: the tracker retries with the same event_id,
    a batch may be sent twice, a file imported again - and the first received copy is
    the event (docs/rules.md#attribution). Rows of `relation` (a relation or CTE with
    event_id and received_at), one per event_id, plus their arrival_rank (always 1).

    received_at decides. `tie_breakers` - every other column of the stream - only make
    the pick deterministic: exact copies are then the only ties, and they are
    interchangeable. No `qualify`, so it reads the same on DuckDB and Spark. -#}
{% macro first_received(relation, tie_breakers) -%}
    {#- Most event ids come once: only the repeated ones are ranked (a sort on every
        column), the rest pass through a hash lookup - the same rows, a fraction of the
        work at 10M events (bench/README.md). -#}
    select *
    from (
        select
            *,
            row_number() over (
                partition by event_id
                order by
                    {{ (['received_at'] + tie_breakers) | join(' asc nulls last, ') }} asc nulls last
            ) as arrival_rank
        from {{ relation }}
        where event_id is null or event_id in ({{ _repeated_event_ids(relation) }})
    ) as ranked
    where arrival_rank = 1
    union all
    select
        *,
        1 as arrival_rank
    from {{ relation }}
    where event_id is not null and event_id not in ({{ _repeated_event_ids(relation) }})
{%- endmacro %}

{#- Event ids that come more than once (never null: `not in` a set holding null is
    never true; null ids, which no writer makes, are ranked with the repeated ones). -#}
{% macro _repeated_event_ids(relation) -%}
    select repeated.event_id
    from {{ relation }} as repeated
    where repeated.event_id is not null
    group by repeated.event_id
    having count(*) > 1
{%- endmacro %}
