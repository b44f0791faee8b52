"""The sensors and schedules, and the instance settings the operator relies on."""

import datetime as dt
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    DagsterInstance,
    SensorResult,
    build_schedule_context,
    build_sensor_context,
    validate_run_config,
)

from convtrack.core import raw_schema
from orchestration.maintenance import prune
from orchestration.resources import ConvtrackSettings
from orchestration.run import DAGSTER_YAML
from orchestration.schedules import daily_prune
from orchestration.sensors import cleanup_requests, new_raw_partitions
from tests.orchestration.run_requests import requested_range


def _touch_partition(raw_dir, day: dt.date, name: str) -> None:
    d = raw_schema.partition_dir(raw_dir, "clicks", day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([], schema=raw_schema.CLICKS), d / name)


def test_new_raw_files_start_one_build_from_their_earliest_day(tmp_path):
    convtrack = ConvtrackSettings(data_dir=str(tmp_path))
    raw = tmp_path / "raw"
    today = dt.datetime.now(dt.UTC).date()
    late_day = today - dt.timedelta(days=20)  # an import of old data
    _touch_partition(raw, late_day, "w-1.parquet")
    _touch_partition(raw, today, "w-2.parquet")

    result = new_raw_partitions(build_sensor_context(cursor=None), convtrack=convtrack)
    assert isinstance(result, SensorResult)
    [run] = result.run_requests
    assert requested_range(run) == {
        "first_day": late_day.isoformat(),
        "last_day": today.isoformat(),
    }

    # Nothing new since: no run. A file landing later: a run from its day only.
    again = new_raw_partitions(build_sensor_context(cursor=result.cursor), convtrack=convtrack)
    assert not isinstance(again, SensorResult)
    yesterday = today - dt.timedelta(days=1)
    _touch_partition(raw, yesterday, "w-3.parquet")
    newer = os.stat(raw_schema.partition_dir(raw, "clicks", yesterday) / "w-3.parquet")
    os.utime(
        raw_schema.partition_dir(raw, "clicks", yesterday) / "w-3.parquet",
        ns=(newer.st_atime_ns, int(result.cursor) + 1),
    )
    third = new_raw_partitions(build_sensor_context(cursor=result.cursor), convtrack=convtrack)
    assert isinstance(third, SensorResult)
    assert requested_range(third.run_requests[0])["first_day"] == str(yesterday)


def test_the_instance_retries_failed_runs_and_queues_warehouse_writers(tmp_path, monkeypatch):
    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = DagsterInstance.get()
    try:
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 1
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": "convtrack/writes", "value": "warehouse", "limit": 1} in limits
    finally:
        instance.dispose()


def _prune_config(run_config) -> dict:
    """The prune op's config as the prune job resolves it (refused if it does not fit)."""
    as_dict = run_config if isinstance(run_config, dict) else run_config.to_config_dict()
    resolved = validate_run_config(prune, as_dict)
    return resolved["ops"]["prune_warehouse"]["config"]


def test_cleanup_requests_and_the_daily_schedule_start_prune_runs_the_job_accepts(tmp_path):
    from fastapi.testclient import TestClient

    from collector.app import create_app
    from convtrack.core.settings import Settings

    settings = Settings(data_dir=tmp_path, admin_token="a")
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/conversions/cleanup",
            json={"as_of": "2026-03-01"},
            headers={"Authorization": "Bearer a"},
        ).json()
    convtrack = ConvtrackSettings(data_dir=str(tmp_path))
    result = cleanup_requests(build_sensor_context(cursor=None), convtrack=convtrack)
    [request] = result.run_requests
    config = _prune_config(request.run_config)
    assert config["as_of"] == "2026-03-01"
    assert config["request_id"] == answer["request_id"]

    when = dt.datetime(2026, 3, 2, 3, 30, tzinfo=dt.UTC)
    scheduled = daily_prune(build_schedule_context(scheduled_execution_time=when))
    assert _prune_config(scheduled.run_config)["as_of"] == "2026-03-02"
