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

from convtrack.core.raw_partitions import SetAside, scan_raw_partitions
from orchestration.build_range import build_run_config
from orchestration.maintenance import prune, prune_run_config
from orchestration.resources import ConvtrackSettings


def new_raw_days(
    raw_dir, since_ns: int, today: dt.date
) -> tuple[set[dt.date], int, list[SetAside]]:
    """Days up to `today` with a raw Parquet file modified after `since_ns`, the newest
    mtime seen, and the entries set aside that changed since (each reported once)."""
    scan = scan_raw_partitions(raw_dir, today)
    days: set[dt.date] = set()
    newest = since_ns
    for by_day in scan.days.values():
        for day, directory in by_day.items():
            for f in directory.glob("*.parquet"):
                mtime = f.stat().st_mtime_ns
                if mtime > since_ns:
                    days.add(day)
                    newest = max(newest, mtime)
    changed = []
    for entry in scan.set_aside:
        mtimes = [p.stat().st_mtime_ns for p in (entry.path, *entry.path.rglob("*"))]
        if max(mtimes) > since_ns:
            changed.append(entry)
            newest = max(newest, *mtimes)
    return days, newest, changed


@sensor(
    job_name="pipeline",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="A build from the earliest day that got new raw files, up to today.",
)
def new_raw_partitions(context: SensorEvaluationContext, convtrack: ConvtrackSettings):
    settings = convtrack.load()
    since = int(context.cursor or 0)
    today = dt.datetime.now(dt.UTC).date()
    days, newest, set_aside = new_raw_days(settings.raw_dir, since, today)
    for entry in set_aside:
        context.log.warning(f"raw files set aside, no run will load them: {entry}")
    if not days:
        if set_aside:  # move past them: each is reported once
            return SensorResult(skip_reason=SkipReason("no new raw files"), cursor=str(newest))
        return SkipReason("no new raw files")
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"raw-{newest}", run_config=build_run_config(min(days), today))
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
        as_of = json.loads(path.read_text()).get("as_of")
        requests.append(
            RunRequest(
                run_key=path.stem,
                run_config=prune_run_config(
                    dt.date.fromisoformat(as_of) if as_of else None, request_id=path.stem
                ),
                tags={"convtrack/cleanup_request": path.stem},
            )
        )
    return SensorResult(run_requests=requests, cursor=pending[-1].stem)
