{#- How the incremental models (staging's clicks and conversions,
    int_clicks_per_tracking_id, the fct_* marts, mart_attribution, agg_daily_link_metrics)
    are built on each engine: the one place where the engines differ for them
    (docs/operations.md#engines). The models and their rules are one set for both.

    DuckDB: delete+insert on the model's unique_key (dbt_project.yml), each run deleting
    its recompute range in a pre-hook first (macros/incremental/recompute_range.sql).

    Spark: plain Parquet tables have no row-level delete. They are partitioned by day and
    a run rewrites whole day partitions (dbt-spark's insert_overwrite, which sets the
    session's spark.sql.sources.partitionOverwriteMode to DYNAMIC: only the partitions the
    new rows fall in are replaced, the others keep their files). The partitions a run
    rewrites are exactly those of its recompute range, from recompute_from_date(lookback)
    on: the pre-hook drops them all first (drop_recompute_partitions), so a day whose rows
    all vanished is gone too, and the model writes only rows of those days
    (incremental_rows), never a row of an earlier day, which would replace that day's
    partition with one row. Why that gives the same rows as a DuckDB run: each
    model's pre-hook and macros/incremental/rebuilt_tracking_ids.sql.

    The partition column: staging's own `dt`, the raw day, already the last column (where
    Spark keeps partition columns) and never published. The other models get a column
    of their own, `partition_day` (the UTC day of their event time, or metric_date), last:
    Spark keeps a partition column in its directory names only and lists it after the
    rest, so partitioning by one of a mart's columns (metric_date) would take it out of
    the data files and move it to the end. With a column of its own, every data file
    holds the model's columns in the model's order, and publishing reads the files alone
    (orchestration/assets/publish.py: spark_marts), without `partition_day`: the snapshot
    has the same columns and types whichever engine built it. It costs no bytes: it is
    only in the directory names. -#}

{#- The model's config (pass it to `config()`): the materialization, and on Spark the
    partitioning. `partition_column`: `partition_day`, or staging's `dt`. -#}
{% macro incremental_config(partition_column='partition_day') -%}
    {{ return(adapter.dispatch('incremental_config', 'convtrack')(partition_column)) }}
{%- endmacro %}

{% macro default__incremental_config(partition_column) -%}
    {{ return({'materialized': 'incremental'}) }}
{%- endmacro %}

{% macro spark__incremental_config(partition_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': [partition_column],
        'file_format': 'parquet',
        'post_hook': '{{ write_columns_file() }}',
    }) }}
{%- endmacro %}

{#- The model's rows, from its last CTE `relation`: `select * from relation` on DuckDB.
    On Spark with the partition column (the day of `day_of`, unless the model is
    partitioned by `day_of` itself), and on an incremental run only the rows of the
    partitions it rewrites: the recompute range of `day_of` (`kind`, `lookback` as for
    in_recompute_range). Rows the model computes of earlier days are the rows those days
    already hold (each model's pre-hook says why). -#}
{% macro incremental_rows(relation, day_of, kind='timestamp', lookback=true) -%}
    {%- set rows = adapter.dispatch('incremental_rows', 'convtrack') -%}
    {{ return(rows(relation, day_of, kind, lookback)) }}
{%- endmacro %}

{% macro default__incremental_rows(relation, day_of, kind, lookback) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro spark__incremental_rows(relation, day_of, kind, lookback) -%}
    {%- set day = '' if day_of in config.get('partition_by', [])
        else ', cast(' ~ day_of ~ ' as date) as partition_day' -%}
    {%- set days = in_recompute_range(day_of, kind=kind, lookback=lookback)
        if is_incremental() else 'true' -%}
    select *{{ day }} from {{ relation }} where {{ days }}
{%- endmacro %}

{#- Spark pre-hook: drop every partition of the recompute range (all of them without a
    start_date), so the insert_overwrite that follows leaves none of their old rows, even
    in a day that has no rows any more. Partitions are listed, then dropped by name: one
    statement. The null partition (a row without a day) is never in the range. -#}
{% macro drop_recompute_partitions(lookback=true) -%}
    {%- if execute and is_incremental() -%}
        {%- set column = config.get('partition_by')[0] -%}
        {%- set first_day = recompute_from_date(lookback) -%}
        {%- set dropped = [] -%}
        {%- for row in run_query('show partitions ' ~ this) -%}
            {%- set day = row[0].split('=', 1)[1] -%}
            {%- if day != '__HIVE_DEFAULT_PARTITION__'
                and (first_day is none or day >= first_day) -%}
                {%- do dropped.append('partition (' ~ column ~ " = '" ~ day ~ "')") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if dropped -%}
            alter table {{ this }} drop if exists {{ dropped | join(', ') }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Spark post-hook: an empty Parquet file with the model's columns and types (not
    partition_day) in the table's folder `_columns/`, which Spark never reads (its
    partitions are listed in the catalogue, and a folder named `_...` is no data). A
    partitioned table without rows has no data file at all - the ledger before the first
    conversion - and publishing still needs its columns (orchestration/assets/publish.py:
    spark_marts). The folder is the table's location in the catalogue: the profile's
    warehouse directory in a session, the server's through a Thrift server. A prune's
    rewrite of the table (macros/retention/rewrite_rows.sql) removes the folder and
    writes it again. -#}
{% macro write_columns_file(relation=none) -%}
    {%- set relation = relation if relation is not none else this -%}
    {%- set locations = [] -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for row in run_query('describe table extended ' ~ relation) if row[0] == 'Location' -%}
            {%- do locations.append(row[1]) -%}
        {%- endfor -%}
        {%- do names.extend(adapter.get_columns_in_relation(relation) | map(attribute='name')) -%}
    {%- endif -%}
    {%- set location = (locations | first | default(relation.identifier)) ~ '/_columns' -%}
    {%- set spark_only = ' except (partition_day)' if 'partition_day' in names else '' -%}
    insert overwrite directory {{ spark_string_literal(location) }} using parquet
    select *{{ spark_only }} from {{ relation }} limit 0
{%- endmacro %}
