{#- dbt's data tests read a model through this macro; a test's `where` config limits the
    rows it checks. Config values cannot call project macros (they are rendered while
    parsing), so a test names its range with a placeholder, rendered here at run time:

        where: "recompute_range:<column>:<kind>:<reloaded|lookback>"

    e.g. "recompute_range:dt:date:reloaded" checks the rows of the days the run reloaded
    (macros/incremental/recompute_range.sql). Any other `where` is dbt's own. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and where.startswith('recompute_range:') -%}
        {%- set _, column, kind, span = where.split(':') -%}
        {%- set where = in_recompute_range(column, kind=kind, lookback=(span == 'lookback')) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') as dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
