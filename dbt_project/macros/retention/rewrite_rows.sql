{#- Removing and changing rows of a table, on an engine with row-level delete (DuckDB:
    `delete from`, `update`) and on one without (Spark's plain Parquet tables), for
    retention (docs/rules.md#retention, docs/operations.md#engines).

    On Spark a table is rewritten without the doomed rows, so that a crash at any point
    loses nothing:
      1. the rows to keep are staged in a work table, <table>__rewrite, same schema;
      2. the work table is marked complete (table property convtrack.rewrite=complete);
      3. the table is overwritten from it (`insert overwrite`, partitionOverwriteMode
         STATIC: every partition of a partitioned table is replaced, and a table without
         partitions is replaced whole);
      4. the work table is dropped.
    A complete work table is the table's truth until it is dropped: whoever finds one
    (finish_interrupted_rewrites: the next prune, the next build) overwrites the table
    from it again and drops it; an incomplete one is dropped, the table untouched.

    `step` names the step in the prune's log and for its fault injection (`fail_after`,
    macros/retention/prune_row_level_data.sql); on Spark the steps inside a rewrite are
    `<step>:staged`, `<step>:marked` and `<step>:overwriting` (a crash inside the
    overwrite, the table emptied and not written yet). -#}

{#- Delete the rows of `relation` for which `condition` is true. -#}
{% macro delete_rows(relation, condition, step, fail_after=none) -%}
    {{ return(adapter.dispatch('delete_rows', 'convtrack')(
        relation, condition, step, fail_after
    )) }}
{%- endmacro %}

{% macro default__delete_rows(relation, condition, step, fail_after=none) -%}
    {%- call statement('delete_rows') -%}
        delete from {{ relation }} where {{ condition }}
    {%- endcall -%}
    {{ prune_checkpoint(step, fail_after) }}
{%- endmacro %}

{#- The rows kept: all but the doomed ones, as a multiset (`condition`, which may hold
    subqueries, stays a plain filter, where Spark takes those). -#}
{% macro spark__delete_rows(relation, condition, step, fail_after=none) -%}
    {{ rewrite_table(
        relation,
        'select * from ' ~ relation ~ ' except all select * from ' ~ relation
        ~ ' where ' ~ condition,
        step, fail_after
    ) }}
{%- endmacro %}

{#- Set `column` of `relation` to `value` (SQL) in the rows where `condition` is true. -#}
{% macro set_column(relation, column, value, condition, step, fail_after=none) -%}
    {{ return(adapter.dispatch('set_column', 'convtrack')(
        relation, column, value, condition, step, fail_after
    )) }}
{%- endmacro %}

{% macro default__set_column(relation, column, value, condition, step, fail_after=none) -%}
    {%- call statement('set_column') -%}
        update {{ relation }} set {{ column }} = {{ value }} where {{ condition }}
    {%- endcall -%}
    {{ prune_checkpoint(step, fail_after) }}
{%- endmacro %}

{% macro spark__set_column(relation, column, value, condition, step, fail_after=none) -%}
    {%- set columns = [] -%}
    {%- for name in adapter.get_columns_in_relation(relation) | map(attribute='name') -%}
        {%- if name == column -%}
            {%- do columns.append('case when ' ~ condition ~ ' then ' ~ value ~ ' else '
                ~ name ~ ' end as ' ~ name) -%}
        {%- else -%}
            {%- do columns.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ rewrite_table(
        relation, 'select ' ~ columns | join(', ') ~ ' from ' ~ relation, step, fail_after
    ) }}
{%- endmacro %}

{% macro rewrite_work_table(relation) -%}
    {{ return(relation.schema ~ '.' ~ relation.identifier ~ '__rewrite') }}
{%- endmacro %}

{#- Spark: replace the rows of `relation` by those of `rows` (a select), steps 1-4 above. -#}
{% macro rewrite_table(relation, rows, step, fail_after=none) -%}
    {%- set work = rewrite_work_table(relation) -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query('create table ' ~ work ~ ' using parquet as ' ~ rows) -%}
    {{ prune_checkpoint(step ~ ':staged', fail_after) }}
    {%- do run_query(
        'alter table ' ~ work ~ " set tblproperties ('convtrack.rewrite' = 'complete')"
    ) -%}
    {{ prune_checkpoint(step ~ ':marked', fail_after) }}
    {%- if fail_after == step ~ ':overwriting' -%}
        {#- What a crash inside `insert overwrite` leaves: the old files deleted, the new
            ones not yet written. -#}
        {%- do _overwrite_from(relation, work, 'false') -%}
        {{ prune_checkpoint(step ~ ':overwriting', fail_after) }}
    {%- endif -%}
    {%- do _overwrite_from(relation, work) -%}
    {%- do run_query('drop table ' ~ work) -%}
    {{ prune_checkpoint(step, fail_after) }}
{%- endmacro %}

{% macro _overwrite_from(relation, work, where='true') -%}
    {#- dbt-spark's insert_overwrite strategy sets DYNAMIC for the session (it replaces
        only the partitions it writes); here every partition goes, so STATIC, and the
        session gets its mode back after. -#}
    {%- set mode_key = 'spark.sql.sources.partitionOverwriteMode' -%}
    {%- set mode = run_query('set ' ~ mode_key).columns[1].values()[0] -%}
    {%- do run_query('set ' ~ mode_key ~ '=STATIC') -%}
    {%- do run_query(
        'insert overwrite table ' ~ relation ~ ' select * from ' ~ work ~ ' where ' ~ where
    ) -%}
    {%- do run_query('set ' ~ mode_key ~ '=' ~ mode) -%}
    {#- The overwrite took the table's whole folder, its columns file too: a mart the prune
        left without rows still publishes (macros/incremental/incremental_config.sql). -#}
    {%- do run_query(write_columns_file(relation)) -%}
{%- endmacro %}

{#- Finish the rewrites a crash interrupted (see the top): a complete work table is
    written over its table and dropped, an incomplete one dropped. Run at the start of
    every prune and, by on-run-start, of every build. -#}
{% macro finish_interrupted_rewrites() -%}
    {{ return(adapter.dispatch('finish_interrupted_rewrites', 'convtrack')()) }}
{%- endmacro %}

{% macro default__finish_interrupted_rewrites() -%}
{%- endmacro %}

{% macro spark__finish_interrupted_rewrites() -%}
    {%- if execute -%}
        {%- for schema in run_query('show schemas').columns[0].values() -%}
            {%- set found = run_query('show tables in ' ~ schema ~ " like '*__rewrite'") -%}
            {%- for name in found.columns[1].values() -%}
                {%- set work = schema ~ '.' ~ name -%}
                {%- set table = name[:-('__rewrite' | length)] -%}
                {%- set marked = run_query(
                    'show tblproperties ' ~ work ~ " ('convtrack.rewrite')"
                ).columns[1].values()[0] -%}
                {%- set exists = run_query(
                    'show tables in ' ~ schema ~ " like '" ~ table ~ "'"
                ).columns[1].values() | length > 0 -%}
                {%- if marked == 'complete' and exists -%}
                    {%- set relation = api.Relation.create(schema=schema, identifier=table) -%}
                    {%- do _overwrite_from(relation, work) -%}
                    {{ log("finished the interrupted rewrite of " ~ relation, info=true) }}
                {%- endif -%}
                {%- do run_query('drop table ' ~ work) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The prune's log of its steps, and its fault injection: with `fail_after` equal to
    `step`, it stops right after that step, as a crash there would (tests/orchestration/
    test_prune_interrupted.py interrupts it after each step in turn). -#}
{% macro prune_checkpoint(step, fail_after=none) -%}
    {{ log("prune_row_level_data: step done: " ~ step, info=true) }}
    {%- if fail_after is not none and fail_after == step -%}
        {{ exceptions.raise_compiler_error(
            "prune_row_level_data: stopped after step '" ~ step ~ "' (fail_after)"
        ) }}
    {%- endif -%}
{%- endmacro %}
