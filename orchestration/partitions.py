"""The daily partitions every asset shares, and pure helpers around them."""

from __future__ import annotations

import datetime as dt

from dagster import BackfillPolicy, DailyPartitionsDefinition, TimeWindow

from convtrack.core import raw_schema

# end_offset=1: today's partition exists, so `--as-of today` covers today's events.
daily_partitions = DailyPartitionsDefinition(
    start_date=raw_schema.FIRST_DAY.isoformat(), end_offset=1
)

# A 90-day backfill is one run, not 90: every asset reads its whole range at once.
single_run = BackfillPolicy.single_run()


def window_days(window: TimeWindow) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a partition time window."""
    first = window.start.date()
    last = (window.end - dt.timedelta(days=1)).date()
    return first, last


def dbt_build_vars(
    *,
    first_day: dt.date,
    last_day: dt.date,
    run_id: str,
    attribution_window_days: int,
    reporting_timezone: str,
) -> dict[str, object]:
    """The dbt vars of one pipeline run over the days [first_day, last_day].

    as-of is the last day; incremental models recompute from `start_date` minus their
    lookback, so late data inside the window is attributed as if it had been on time.
    """
    return {
        "start_date": first_day.isoformat(),
        "as_of": last_day.isoformat(),
        "run_id": run_id,
        "attribution_window_days": attribution_window_days,
        "reporting_timezone": reporting_timezone,
    }


def range_tags(first_day: dt.date, last_day: dt.date) -> dict[str, str]:
    """Run tags that make one run cover the partitions [first_day, last_day]."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    return {
        ASSET_PARTITION_RANGE_START_TAG: first_day.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: last_day.isoformat(),
    }
