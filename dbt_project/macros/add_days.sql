{#- A timestamp plus a whole number of days, keeping the time of day to the microsecond
    (dbt-spark's dateadd goes through seconds). `days` must be an integer known at compile
    time; the `interval 'N' day` literal reads the same in DuckDB and Spark. -#}
{% macro add_days(ts, days) -%}
    {{ return(adapter.dispatch('add_days', 'convtrack')(ts, days)) }}
{%- endmacro %}

{% macro default__add_days(ts, days) -%}
    ({{ ts }} + interval '{{ days | int }}' day)
{%- endmacro %}
