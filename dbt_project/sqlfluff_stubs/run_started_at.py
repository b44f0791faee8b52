"""Lint-only stand-in for dbt's `run_started_at` (a UTC datetime)."""


def strftime(fmt):
    return "2026-01-01 00:00:00.000000"
