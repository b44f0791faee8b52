{#- Staging's one rule for repeated events: the tracker retries with the same event_id,
    a batch may be sent twice, a file imported again - and the first received copy is
    the event (docs/rules.md#attribution). Rows of `relation` (a relation or CTE with
    event_id and received_at), one per event_id, plus their arrival_rank (always 1).

    received_at decides. `tie_breakers` - every other column of the stream - only make
    the pick deterministic: exact copies are then the only ties, and they are
    interchangeable. No `qualify`, so it reads the same on DuckDB and Spark. -#}
{% macro first_received(relation, tie_breakers) -%}
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
    ) as ranked
    where arrival_rank = 1
{%- endmacro %}
