"""Lint-only stand-in for dbt's `adapter`: a dispatched macro renders as a call to
a function of the same name, which sqlfluff parses like any SQL function - except the
incremental models' config and final select (macros/incremental/incremental_config.sql),
and the unnesting of touches (macros/touches.sql), which are no expression: they render
as on DuckDB."""

_AS_ON_DUCKDB = {
    "incremental_config": lambda *args: {"materialized": "incremental"},
    "incremental_rows": lambda relation, *args: f"select * from {relation}",
    "touches_unnested": lambda relation, columns: (
        f"select {', '.join(columns)}, touch_position, touch_tracking_id, "
        f"touch_campaign_link_id from {relation}"
    ),
}


def get_columns_in_relation(relation):
    """No columns: linting sees the branch for a column the relation lacks."""
    return []


def dispatch(macro_name, macro_namespace=None):
    if macro_name in _AS_ON_DUCKDB:
        return _AS_ON_DUCKDB[macro_name]

    def render(*args):
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return render
