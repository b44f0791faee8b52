"""The collector's idea of now: UTC, naive, microseconds — the raw schema's timestamps."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
