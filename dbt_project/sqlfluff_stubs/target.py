"""Lint-only stand-in for dbt's `target`: the DuckDB output, as a hand-run build has it."""

type = "duckdb"
