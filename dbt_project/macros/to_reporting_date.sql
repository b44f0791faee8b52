{#- The calendar date, in var('reporting_timezone'), of a UTC timestamp without zone
    (docs/rules.md#time: stored in UTC, reported in the reporting zone). -#}
{% macro to_reporting_date(ts) -%}
    {%- set zone = run_var('reporting_timezone') -%}
    {{ return(adapter.dispatch('to_reporting_date', 'convtrack')(ts, zone)) }}
{%- endmacro %}

{% macro default__to_reporting_date(ts, tz) -%}
    {{ exceptions.raise_compiler_error("to_reporting_date is not implemented for " ~ target.type) }}
{%- endmacro %}

{#- timezone('UTC', ts) reads the naive value as UTC whatever the session zone is; the
    outer timezone() gives the wall-clock time in the reporting zone. -#}
{% macro duckdb__to_reporting_date(ts, tz) -%}
    cast(timezone('{{ tz }}', timezone('UTC', {{ ts }})) as date)
{%- endmacro %}

{% macro spark__to_reporting_date(ts, tz) -%}
    to_date(from_utc_timestamp({{ ts }}, '{{ tz }}'))
{%- endmacro %}
