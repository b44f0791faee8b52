"""The compaction job: every stream's closed days merged, closed by the configured log
segment age, and only real merges counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from collector.storage import ParquetRawEventStore
from convtrack.core import raw_schema
from orchestration.maintenance import compaction
from orchestration.resources import ConvtrackSettings
from tests.collector.test_storage import click


def link_version(i: int, when: dt.datetime) -> dict:
    return {
        "campaign_link_id": f"l{i}",
        "short_code": f"c{i}",
        "destination_url": "https://creator.example/",
        "campaign_name": None,
        "youtube_video_id": None,
        "placement": None,
        "created_at": when,
        "disabled_at": None,
        "recorded_at": when,
        "attribution_window_days": None,
    }


def two_files_a_day(raw: Path, days: list[dt.date]) -> None:
    store = ParquetRawEventStore(raw)
    for day in days:
        noon = dt.datetime.combine(day, dt.time(12))
        for i in range(2):
            store.write_table("clicks", pa.Table.from_pylist([click(i, noon)]))
            store.write_table("campaign_links", pa.Table.from_pylist([link_version(i, noon)]))


def file_counts(raw: Path, days: list[dt.date]) -> dict[tuple[str, dt.date], int]:
    return {
        (stream, day): len(list(raw_schema.partition_dir(raw, stream, day).glob("*.parquet")))
        for stream in ("clicks", "campaign_links")
        for day in days
    }


def run_compaction(data_dir: Path) -> int:
    result = compaction.execute_in_process(
        resources={"convtrack": ConvtrackSettings(data_dir=str(data_dir))}
    )
    assert result.success
    return result.output_for_node("compact_closed_days")


@pytest.mark.parametrize(
    ("segment_age_s", "closed"),
    [
        (60.0, {"four_days_ago", "two_days_ago"}),
        # Segments that live 12 hours keep a day open 60 hours after it ended (whatever
        # the time of day now, two days ago is open and four days ago closed).
        (12 * 3600.0, {"four_days_ago"}),
    ],
)
def test_closed_days_of_every_stream_are_merged(tmp_path, monkeypatch, segment_age_s, closed):
    monkeypatch.setenv("CONVTRACK_LOG_SEGMENT_MAX_AGE_S", str(segment_age_s))
    today = dt.datetime.now(dt.UTC).date()
    days = {
        "four_days_ago": today - dt.timedelta(days=4),
        "two_days_ago": today - dt.timedelta(days=2),
        "today": today,
    }
    raw = tmp_path / "data" / "raw"
    two_files_a_day(raw, list(days.values()))

    merged = run_compaction(tmp_path / "data")

    counts = file_counts(raw, list(days.values()))
    assert merged == 2 * len(closed)  # clicks and campaign_links of each closed day
    for name, day in days.items():
        expected = 1 if name in closed else 2
        assert counts["clicks", day] == counts["campaign_links", day] == expected, name
    # Nothing left to merge: a second run merges nothing and says so.
    assert run_compaction(tmp_path / "data") == 0
