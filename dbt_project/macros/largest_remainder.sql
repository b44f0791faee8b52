{#- Whole units of `total` (an integer column: cents, millionths of a conversion) shared out
    by `share` (a double column, the shares of one partition summing to 1) to the rows of
    each partition, summing to exactly `total` (docs/rules.md#attribution-models): each
    row gets its share rounded down, and the units left go one each to the largest
    remainders, the row with the larger `tie_breaker` first on a tie.

    The rows of `relation` (a relation or CTE) with the units as `column`, plus the
    helper columns `<column>_floor`, `<column>_exact`, `<column>_left` and
    `<column>_rank`. The one home of the rule: int_attribution_credits shares out a
    conversion and its revenue, int_refund_credits a refund. -#}
{% macro largest_remainder(relation, total, share, partition_by, tie_breaker, column) -%}
    {#- Shares are doubles: this much below a whole unit still counts as the whole unit. -#}
    {%- set epsilon = 0.000000001 -%}
    select
        *,
        {{ column }}_floor
        + case when {{ column }}_rank <= {{ column }}_left then 1 else 0 end as {{ column }}
    from (
        select
            *,
            {{ total }} - sum({{ column }}_floor) over (
                partition by {{ partition_by }}
            ) as {{ column }}_left,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ column }}_exact - {{ column }}_floor desc, {{ tie_breaker }} desc
            ) as {{ column }}_rank
        from (
            select
                *,
                cast(floor({{ total }} * {{ share }} + {{ epsilon }}) as bigint)
                    as {{ column }}_floor,
                {{ total }} * {{ share }} as {{ column }}_exact
            from {{ relation }}
        ) as {{ column }}_floored
    ) as {{ column }}_ranked
{%- endmacro %}
