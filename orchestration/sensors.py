"""Sensors: build when new raw files land; prune when someone asks through the API."""

import datetime as dt
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from convtrack import raw_schema
from orchestration.maintenance import prune
from orchestration.partitions import range_tags
from orchestration.resources import ConvtrackSettings


def new_raw_days(raw_dir, since_ns: int) -> tuple[set[dt.date], int]:
    """Days with a raw Parquet file modified after `since_ns`, and the newest mtime seen."""
    days: set[dt.date] = set()
    newest = since_ns
    for stream in raw_schema.STREAMS:
        for day in raw_schema.partition_days(raw_dir, stream):
            for f in raw_schema.partition_dir(raw_dir, stream, day).glob("*.parquet"):
                mtime = f.stat().st_mtime_ns
                if mtime > since_ns:
                    days.add(day)
                    newest = max(newest, mtime)
    return days, newest


@sensor(
    job_name="pipeline",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="A build from the earliest day that got new raw files, up to today.",
)
def new_raw_partitions(context: SensorEvaluationContext, convtrack: ConvtrackSettings):
    settings = convtrack.load()
    since = int(context.cursor or 0)
    days, newest = new_raw_days(settings.raw_dir, since)
    if not days:
        return SkipReason("no new raw files")
    today = dt.datetime.now(dt.UTC).date()
    first = min(days)
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"raw-{newest}", tags=range_tags(first, max(today, max(days))))
        ],
        cursor=str(newest),
    )


@sensor(
    job=prune,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="One prune run per POST /api/conversions/cleanup request.",
)
def cleanup_requests(context: SensorEvaluationContext, convtrack: ConvtrackSettings):
    settings = convtrack.load()
    directory = settings.cleanup_requests_dir
    seen = context.cursor or ""
    # Request ids are UUIDv7: their names sort by the time they were made.
    pending = (
        sorted(p for p in directory.glob("*.json") if p.stem > seen) if directory.is_dir() else []
    )
    if not pending:
        return SkipReason("no cleanup requests")
    requests = []
    for path in pending:
        body = json.loads(path.read_text())
        requests.append(
            RunRequest(
                run_key=path.stem,
                run_config={
                    "ops": {
                        "prune_warehouse": {
                            "config": {"as_of": body.get("as_of"), "request_id": path.stem}
                        }
                    }
                },
                tags={"convtrack/cleanup_request": path.stem},
            )
        )
    return SensorResult(run_requests=requests, cursor=pending[-1].stem)
