{#- A value the orchestration sets for one run: CONVTRACK_DBT_<NAME> from the
    environment when set (orchestration/build_range.py: the run's start_date, as_of and
    run_id, and the settings attribution_window_days and reporting_timezone), else the
    dbt var of that name, so a hand-run `dbt build --vars '{as_of: ...}'` works too.

    The environment and not --vars: dbt re-parses the whole project when the command
    line's vars change, which would be every run; a changed environment variable only
    re-parses the files that read it while parsing. -#}
{% macro run_var(name) -%}
    {%- set value = env_var('CONVTRACK_DBT_' ~ (name | upper), '') -%}
    {{ return(value if value != '' else var(name, none)) }}
{%- endmacro %}
