{#- On Spark the raw streams are read where the collector wrote them: raw.<stream> is an
    external Parquet table over data/raw/<stream>, one partition per dt= day directory
    (docs/operations.md#engines). On DuckDB the orchestration loads raw.* itself
    (orchestration/assets/ingest.py) and this renders nothing.

    The orchestration passes, as CONVTRACK_DBT_SPARK_RAW_SOURCES (JSON), each stream's
    location, columns and days - the days the DuckDB load reads, as ranges of consecutive
    days. Each run drops and creates the tables (dropping an external table leaves its
    files where they are) and adds exactly those days as partitions: a directory the run
    sets aside (a `dt=garbage`, a day after as_of) is never read, as a repair that
    registers every dt= directory would. Without the variable (a hand-run dbt) the tables
    stay as the last pipeline run left them. One statement per call: Spark SQL runs one
    at a time. -#}
{% macro register_raw_tables() -%}
    {{ return(adapter.dispatch('register_raw_tables', 'convtrack')()) }}
{%- endmacro %}

{% macro default__register_raw_tables() -%}
{%- endmacro %}

{% macro spark__register_raw_tables() -%}
    {%- set sources = run_var('spark_raw_sources') -%}
    {%- if execute and sources -%}
        {#- The schema of the `collector` sources (_collector__sources.yml). -#}
        {%- do run_query('create schema if not exists raw') -%}
        {%- for stream, spec in fromjson(sources).items() -%}
            {%- set table = 'raw.' ~ stream -%}
            {%- set columns = [] -%}
            {%- for name, type in spec['columns'] -%}
                {%- do columns.append(name ~ ' ' ~ type) -%}
            {%- endfor -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {#- Only the day directories' Parquet files, as the DuckDB load reads them. -#}
            {%- do run_query(
                'create table ' ~ table ~ ' (' ~ columns | join(', ') ~ ', dt date)'
                ~ " using parquet options (pathGlobFilter '*.parquet')"
                ~ ' partitioned by (dt)'
                ~ ' location ' ~ spark_string_literal(spec['location'])
            ) -%}
            {%- set days = [] -%}
            {%- for first, last in spec['days'] -%}
                {%- set first_day = modules.datetime.date.fromisoformat(first) -%}
                {%- set n_days = (modules.datetime.date.fromisoformat(last) - first_day).days -%}
                {%- for offset in range(n_days + 1) -%}
                    {%- set day = first_day + modules.datetime.timedelta(days=offset) -%}
                    {%- do days.append("partition (dt = '" ~ day.isoformat() ~ "')") -%}
                {%- endfor -%}
            {%- endfor -%}
            {%- if days -%}
                {%- do run_query('alter table ' ~ table ~ ' add ' ~ days | join(' ')) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- A Spark SQL string literal of `text` (a path may hold a quote or a backslash). -#}
{% macro spark_string_literal(text) -%}
    {{ return("'" ~ text | replace('\\', '\\\\') | replace("'", "\\'") ~ "'") }}
{%- endmacro %}
