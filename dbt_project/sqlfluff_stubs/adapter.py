"""Lint-only stand-in for dbt's `adapter`: a dispatched macro renders as a call to
a function of the same name, which sqlfluff parses like any SQL function - except the
incremental models' config and final select (macros/incremental/incremental_config.sql),
which are no expression: they render as on DuckDB."""

_AS_ON_DUCKDB = {
    "incremental_config": lambda *args: {"materialized": "incremental"},
    "incremental_rows": lambda relation, *args: f"select * from {relation}",
}


def dispatch(macro_name, macro_namespace=None):
    if macro_name in _AS_ON_DUCKDB:
        return _AS_ON_DUCKDB[macro_name]

    def render(*args):
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return render
