"""Lint-only stand-in for dbt's cross-database macros (the `dbt.` namespace), rendered
as DuckDB would render them."""


def type_string():
    return "varchar"


def type_timestamp():
    return "timestamp"


def type_bigint():
    return "bigint"
