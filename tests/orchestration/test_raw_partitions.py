"""Stray raw partitions (a day before the first partition, a day in 9999, a name that is no
day, a file where a directory belongs) are reported and set aside, never loaded, never
deleted, never a reason to stop or to walk the calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import SensorResult, build_sensor_context

from convtrack.core import raw_schema
from convtrack.core.raw_partitions import scan_raw_partitions
from orchestration.assets import ingest
from orchestration.resources import ConvtrackSettings
from orchestration.retention import prune_raw_partitions
from orchestration.sensors import new_raw_partitions
from tests.orchestration.run_requests import requested_range

DAY = dt.date(2026, 3, 1)
STRAY_DAYS = ("dt=1999-01-01", "dt=2019-12-31", "dt=9999-12-31")
NOT_DAYS = ("dt=garbage", "dt=20260301", "dt=2026-02-30", "2026-03-01")


def _clicks(n: int, day: dt.date) -> pa.Table:
    at = dt.datetime.combine(day, dt.time(12))
    return pa.Table.from_pylist(
        [
            {
                "event_id": f"00000000-0000-4000-8000-{i:012d}",
                "tracking_id": f"00000000-0000-4000-9000-{i:012d}",
                "campaign_link_id": "00000000-0000-4000-a000-000000000001",
                "clicked_at": at,
                "received_at": at,
                "ip_address": None,
                "user_agent": None,
                "referrer": None,
                "source": "import",
            }
            for i in range(n)
        ],
        schema=raw_schema.CLICKS,
    )


def make_strays(raw: Path) -> list[Path]:
    """Stray entries in every way the raw layout can be wrong; returns their paths."""
    root = raw / "clicks"
    strays = []
    for name in (*STRAY_DAYS, *NOT_DAYS):
        (root / name).mkdir(parents=True)
        pq.write_table(_clicks(2, DAY), root / name / "w-1.parquet")
        strays.append(root / name)
    pq.write_table(_clicks(1, DAY), root / "stray.parquet")  # a file in the wrong place
    (root / "dt=2026-03-05").write_text("a file named like a day")
    strays += [root / "stray.parquet", root / "dt=2026-03-05"]
    return strays


def _write_day(raw: Path, day: dt.date, n: int) -> None:
    d = raw_schema.partition_dir(raw, "clicks", day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(_clicks(n, day), d / f"w-{day}.parquet")


def test_the_scan_keeps_the_days_of_the_partitions_and_sets_the_rest_aside(tmp_path):
    raw = tmp_path / "raw"
    strays = make_strays(raw)
    _write_day(raw, DAY, 3)
    _write_day(raw, DAY + dt.timedelta(days=10), 1)  # after the scan's last day
    (raw / "clicks" / "dt=2026-03-02").mkdir()  # an empty day: nothing to load or report
    (raw / "clicks" / ".w-9.parquet.tmp").write_text("a writer's temp file")

    scan = scan_raw_partitions(raw, DAY + dt.timedelta(days=5))
    assert scan.stream_days("clicks") == {DAY: raw_schema.partition_dir(raw, "clicks", DAY)}
    assert scan.first_day == DAY
    reasons = {entry.path.name: entry.reason for entry in scan.set_aside}
    assert set(reasons) == {p.name for p in strays} | {"dt=2026-03-11"}
    assert "before 2020-01-01" in reasons["dt=1999-01-01"]
    assert "after 2026-03-06" in reasons["dt=9999-12-31"]
    assert "not a dt=YYYY-MM-DD day directory" in reasons["dt=garbage"]
    assert "not a dt=YYYY-MM-DD day directory" in reasons["dt=2026-03-05"]
    assert all(p.exists() for p in strays)


def test_loading_lists_the_day_directories_instead_of_walking_the_calendar(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    make_strays(raw)
    days = [dt.date(2020, 1, 1), DAY, dt.date(2030, 12, 31)]
    for n, day in enumerate(days, start=1):
        _write_day(raw, day, n)
    listed: list[Path] = []
    live_files = ingest.live_files

    def counted(directory: Path) -> list[Path]:
        listed.append(directory)
        return live_files(directory)

    monkeypatch.setattr(ingest, "live_files", counted)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    # Eleven years of days, three of them with files: three directories are opened.
    assert ingest.load_stream(con, raw, "clicks", days[0], days[-1]) == 3
    assert sorted(p.name for p in listed) == [f"dt={d}" for d in days]
    assert con.execute("select dt, count(*) from raw.clicks group by 1 order by 1").fetchall() == [
        (d, n) for n, d in enumerate(days, start=1)
    ]


def test_retention_passes_over_directories_that_are_no_day(tmp_path):
    raw = tmp_path / "raw"
    strays = make_strays(raw)
    _write_day(raw, DAY, 1)
    result = prune_raw_partitions(raw, cutoff=dt.date(2026, 6, 1))
    # Days before the cutoff are past retention, however old; the rest is left alone.
    assert sorted(p.name for p in result.deleted) == sorted(
        ["dt=1999-01-01", "dt=2019-12-31", f"dt={DAY}"]
    )
    kept = [p for p in strays if p.name not in ("dt=1999-01-01", "dt=2019-12-31")]
    assert all(p.exists() for p in kept)


def test_the_raw_sensor_builds_from_the_first_schedulable_day_and_reports_strays(tmp_path):
    raw = tmp_path / "raw"
    make_strays(raw)
    today = dt.datetime.now(dt.UTC).date()
    _write_day(raw, today - dt.timedelta(days=3), 1)
    convtrack = ConvtrackSettings(data_dir=str(tmp_path))

    context = build_sensor_context(cursor=None)
    result = new_raw_partitions(context, convtrack=convtrack)
    assert isinstance(result, SensorResult)
    [run] = result.run_requests
    assert requested_range(run) == {
        "first_day": str(today - dt.timedelta(days=3)),
        "last_day": str(today),
    }
    # Strays are reported once: the next evaluation has nothing to say or to run.
    again = new_raw_partitions(build_sensor_context(cursor=result.cursor), convtrack=convtrack)
    assert not isinstance(again, SensorResult)


def test_strays_alone_move_the_sensor_cursor_without_a_run(tmp_path):
    make_strays(tmp_path / "raw")
    convtrack = ConvtrackSettings(data_dir=str(tmp_path))
    result = new_raw_partitions(build_sensor_context(cursor=None), convtrack=convtrack)
    assert isinstance(result, SensorResult)
    assert result.run_requests == [] and int(result.cursor) > 0
