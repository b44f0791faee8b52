"""Maintenance jobs: retention (prune) and compaction of closed raw days."""

import datetime as dt
import json

from dagster import (
    Config,
    OpExecutionContext,
    RetryPolicy,
    RunConfig,
    in_process_executor,
    job,
    op,
)
from dagster_dbt import DbtCliResource

from convtrack.core import raw_schema
from convtrack.core.compaction import COMPACTED_PREFIX, compact_partition, is_closed, live_files
from convtrack.report import write_report
from orchestration.assets.publish import publish_snapshot
from orchestration.build_range import dbt_run_env
from orchestration.dbt_env import dbt_environment
from orchestration.project import dbt_project
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock
from orchestration.retention import prune_raw_partitions, retention_cutoff


class PruneConfig(Config):
    """`as_of`: the day retention is applied as of (default: today, UTC); `request_id`:
    the `POST /api/conversions/cleanup` request that asked for the run, if one did."""

    as_of: str | None = None
    request_id: str | None = None


def prune_run_config(
    as_of: dt.date | None = None, *, request_id: str | None = None, log_level: str | None = None
) -> RunConfig:
    """The run config of a prune run: every starter (CLI, schedule, sensor) builds it here."""
    config = PruneConfig(as_of=as_of.isoformat() if as_of else None, request_id=request_id)
    loggers = {"console": {"config": {"log_level": log_level}}} if log_level else None
    return RunConfig(ops={"prune_warehouse": config}, loggers=loggers)


def _as_of(config: PruneConfig) -> dt.date:
    return dt.date.fromisoformat(config.as_of) if config.as_of else dt.datetime.now(dt.UTC).date()


# A retry (or any later prune) after a failure part-way records nothing twice and ends
# where an uninterrupted prune would (dbt_project/macros/retention/prune_row_level_data.sql).
@op(retry_policy=RetryPolicy(max_retries=2, delay=30))
def prune_warehouse(
    context: OpExecutionContext,
    config: PruneConfig,
    dbt: DbtCliResource,
    convtrack: ConvtrackSettings,
    warehouse_lock: WarehouseWriterLock,
) -> str:
    """Remove row-level data past RETENTION_DAYS from the warehouse (dbt macro), on
    either engine."""
    settings = convtrack.load()
    as_of = _as_of(config)
    args = {"as_of": as_of.isoformat(), "retention_days": settings.retention_days}
    asked = f" (cleanup request {config.request_id})" if config.request_id else ""
    context.log.info(
        f"pruning the warehouse as of {as_of}, keeping {settings.retention_days} days{asked}"
    )
    with dbt_environment(settings, dbt_run_env(settings)):
        invocation = dbt.cli(
            ["run-operation", "prune_row_level_data", "--args", json.dumps(args)],
            manifest=dbt_project.manifest_path,
        )
    invocation.wait()
    return as_of.isoformat()


@op
def prune_raw_files(context: OpExecutionContext, as_of: str, convtrack: ConvtrackSettings) -> str:
    """Remove (or archive) raw day partitions past retention, after the warehouse."""
    settings = convtrack.load()
    cutoff = retention_cutoff(dt.date.fromisoformat(as_of), settings.retention_days)
    result = prune_raw_partitions(settings.raw_dir, cutoff, settings.archive_dir)
    where = f"moved to {settings.archive_dir}" if settings.archive_dir else "deleted"
    context.log.info(
        f"raw partitions before {cutoff}: {len(result.moved) + len(result.deleted)} {where}"
    )
    return as_of


@op
def republish(
    context: OpExecutionContext,
    as_of: str,
    convtrack: ConvtrackSettings,
    warehouse_lock: WarehouseWriterLock,
) -> None:
    """Publish the pruned marts so readers stop seeing pruned rows; the report too."""
    settings = convtrack.load()
    counts = publish_snapshot(settings)
    context.log.info(f"republished {len(counts)} tables after the prune as of {as_of}")
    context.log.info(f"rewrote the report at {write_report(settings)}")


@job(
    executor_def=in_process_executor,
    tags={"convtrack/writes": "warehouse"},
    description="Apply retention, then republish.",
)
def prune():
    republish(prune_raw_files(prune_warehouse()))


@op
def compact_closed_days(context: OpExecutionContext, convtrack: ConvtrackSettings) -> int:
    """Merge each closed day's small raw files into one, in every stream; days merged."""
    settings = convtrack.load()
    age = settings.log_segment_max_age_s
    merged = 0
    for stream in raw_schema.STREAMS:
        for day in raw_schema.partition_days(settings.raw_dir, stream):
            directory = raw_schema.partition_dir(settings.raw_dir, stream, day)
            if not is_closed(day, segment_age_s=age) or len(live_files(directory)) <= 1:
                continue
            out = compact_partition(settings.raw_dir, stream, day, segment_age_s=age)
            merged += out is not None and out.name.startswith(COMPACTED_PREFIX)
    context.log.info(f"compacted {merged} day partitions")
    return merged


@job(executor_def=in_process_executor, description="Compact closed raw day partitions.")
def compaction():
    compact_closed_days()
