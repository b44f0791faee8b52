"""Lint-only stand-in for dbt's `modules` (Python's datetime for the recompute range).

sqlfluff's `var()` returns a placeholder, not a date: parse what parses, else a fixed day.
"""

import datetime as _datetime


class _Date:
    @staticmethod
    def fromisoformat(text):
        try:
            return _datetime.date.fromisoformat(str(text))
        except ValueError:
            return _datetime.date(2026, 1, 1)


class datetime:  # mirrors dbt's modules.datetime
    date = _Date
    timedelta = _datetime.timedelta
