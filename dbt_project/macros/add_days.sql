{#- A timestamp plus a whole number of days, keeping the time of day to the microsecond
    (dbt-spark's dateadd goes through seconds). `days`: an integer known at compile time
    (an `interval 'N' day` literal), or an integer column expression (a day interval
    times it); both read the same in DuckDB and Spark. -#}
{% macro add_days(ts, days) -%}
    {{ return(adapter.dispatch('add_days', 'convtrack')(ts, days)) }}
{%- endmacro %}

{% macro default__add_days(ts, days) -%}
    {%- if days is number or modules.re.fullmatch('-?[0-9]+', days | string | trim) -%}
        ({{ ts }} + interval '{{ days | int }}' day)
    {%- else -%}
        ({{ ts }} + interval '1' day * cast({{ days }} as int))
    {%- endif -%}
{%- endmacro %}
