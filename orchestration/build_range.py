"""The days a pipeline run (re)loads, and what dbt is told about the run.

A run loads the raw days [first_day, last_day] and builds the marts as of last_day; the
incremental models recompute from first_day minus the lookback (docs/rules.md#time).
The range is a property of the whole run, so it is one resource every asset reads, not
Dagster partitions: a partitioned run records every asset for every day of its range
(two events per asset and day in the run storage), which made a first build over 90
sparse days spend minutes writing events and seconds building (bench/README.md).

Who starts a run sets the range in its run config (`build_run_config`); a run launched
without one - from the UI, say - builds from the first day with raw data up to today.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from dagster import ConfigurableResource, RunConfig
from pydantic import field_validator, model_validator

from convtrack.core.raw_partitions import scan_raw_partitions
from convtrack.core.rules import longest_window_days
from convtrack.core.settings import Settings

RESOURCE_KEY = "build_range"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class BuildRange(ConfigurableResource):
    """`first_day` .. `last_day` (YYYY-MM-DD, inclusive): the raw days this run loads;
    the marts are as of `last_day`. Unset: the first day with raw data, and today (UTC)."""

    first_day: str | None = None
    last_day: str | None = None

    @field_validator("first_day", "last_day")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BuildRange:
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")
        return self

    def days(self, settings: Settings) -> tuple[dt.date, dt.date]:
        """The run's first and last day, the defaults filled in."""
        last = dt.date.fromisoformat(self.last_day) if self.last_day else _today()
        if self.first_day:
            first = dt.date.fromisoformat(self.first_day)
            if first > last:  # last_day unset: today is known only now
                raise ValueError(f"first_day {first} is after last_day {last} (today, UTC)")
            return first, last
        first = scan_raw_partitions(settings.raw_dir, last).first_day
        return min(first or last, last), last


def build_run_config(
    first_day: dt.date, last_day: dt.date, *, log_level: str | None = None
) -> RunConfig:
    """The run config of a pipeline run over [first_day, last_day]: every starter (CLI,
    schedule, sensor, bench) builds it here."""
    loggers = {"console": {"config": {"log_level": log_level}}} if log_level else None
    return RunConfig(
        resources={
            RESOURCE_KEY: BuildRange(first_day=first_day.isoformat(), last_day=last_day.isoformat())
        },
        loggers=loggers,
    )


def dbt_run_env(
    settings: Settings,
    *,
    start_date: dt.date | None = None,
    as_of: dt.date | None = None,
    run_id: str | None = None,
    spark_raw_sources: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """What a run tells dbt, as environment variables (dbt_project/macros/run_var.sql,
    profiles.yml): the settings dbt reads (the profile's output: dbt_target), and
    for a build its range and run id - and on Spark the raw tables to register
    (orchestration.assets.ingest.spark_raw_sources).

    Not `--vars`: dbt re-parses the whole project whenever the command line's vars
    change, which is every run (a new run id, a new as-of). An environment variable only
    re-parses the few files that read it while parsing. `start_date` is the first raw day
    the run (or an earlier run that did not finish its build) loaded; incremental models
    recompute from there minus the lookback, so late data inside the window is attributed
    as if it had been on time.
    """
    target = dbt_target(settings)
    thrift = settings.spark_thrift_address if target == "spark_thrift" else None
    values = {
        "attribution_window_days": str(settings.attribution_window_days),
        "longest_window_days": str(
            longest_window_days(settings.attribution_window_days, settings.raw_dir)
        ),
        "reporting_timezone": settings.reporting_timezone,
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "target": target,
        "spark_master": settings.spark_master if target == "spark" else None,
        "spark_thrift_host": thrift[0] if thrift else None,
        "spark_thrift_port": str(thrift[1]) if thrift else None,
        "spark_raw_sources": json.dumps(spark_raw_sources) if spark_raw_sources else None,
        "start_date": start_date.isoformat() if start_date else None,
        "as_of": as_of.isoformat() if as_of else None,
        "run_id": run_id,
    }
    return {dbt_env_name(name): value for name, value in values.items() if value is not None}


def dbt_target(settings: Settings) -> str:
    """The output of dbt_project/profiles.yml a run builds with: DuckDB, Spark in dbt's own
    process, or a Spark Thrift server (docs/operations.md#engines)."""
    if settings.engine == "spark" and settings.spark_thrift is not None:
        return "spark_thrift"
    return settings.engine


# Every such variable starts so; a run clears those of an earlier run in the process.
DBT_ENV_PREFIX = "CONVTRACK_DBT_"


def dbt_env_name(var_name: str) -> str:
    """The environment variable that overrides the dbt var `var_name` for a run."""
    return f"{DBT_ENV_PREFIX}{var_name.upper()}"
